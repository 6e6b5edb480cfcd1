import type { InjectionKey } from 'vue';
import type { RuntimeConfig } from '../server/runtime-config';

export type { RuntimeConfig };

export const defaultConfig: RuntimeConfig = {
  apiUrl: '/api',
  featureEditTask: true,
  featureDeleteTask: true,
  appVersion: 'unknown',
  // Without a config.json the page cannot know; the cluster's answer (scale to zero) is the safe one.
  apiSleeps: true,
  embeddedDatabase: false,
};

/** What a slow answer waits for: a sleeping API, the embedded database opening, or a database server. */
export type Waiting = 'api' | 'embedded' | 'database';
export const waitingFor = (c: RuntimeConfig): Waiting => (c.apiSleeps ? 'api' : c.embeddedDatabase ? 'embedded' : 'database');
/** {@link waitingFor} the runtime config, provided by main.ts to the status line (StatusBar.vue). */
export const waitingKey: InjectionKey<Waiting> = Symbol('waiting');

/**
 * Reads `/config.json`, written at deploy time from the environment. A missing or malformed file
 * falls back to the defaults key by key: the API still enforces its own feature flags.
 */
export async function fetchRuntimeConfig(doFetch: typeof fetch = (i, init) => fetch(i, init)): Promise<RuntimeConfig> {
  let raw: Record<string, unknown> = {};
  try {
    const res = await doFetch('/config.json', { cache: 'no-store' });
    if (res.ok) raw = ((await res.json()) as Record<string, unknown> | null) ?? {};
  } catch {
    // Offline or not JSON: the defaults below are a working configuration.
  }
  const pick = <K extends keyof RuntimeConfig>(key: K): RuntimeConfig[K] =>
    typeof raw[key] === typeof defaultConfig[key] ? (raw[key] as RuntimeConfig[K]) : defaultConfig[key];
  return {
    apiUrl: pick('apiUrl') || defaultConfig.apiUrl,
    featureEditTask: pick('featureEditTask'),
    featureDeleteTask: pick('featureDeleteTask'),
    appVersion: pick('appVersion'),
    apiSleeps: pick('apiSleeps'),
    embeddedDatabase: pick('embeddedDatabase'),
  };
}
