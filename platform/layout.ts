// Where each rendered object goes and in which deploy wave. Argo CD and `npm run deploy` both
// read this, so the two deploy paths cannot drift apart.
import type { Values } from './values';

export type WaveName = 'database' | 'backend' | 'frontend';

export interface Wave {
  /** Argo CD sync wave of the component's Application; also the `npm run deploy` order. */
  wave: number;
  name: WaveName;
  /** Folders under platform/rendered/<env>/ that make up the wave, applied in this order. */
  dirs: string[];
}

/**
 * The previous system's waves: 0 database → 1 backend (the migration Job first, then the API)
 * → 2 frontend. The migration Job lives in the database namespace but belongs to the backend wave.
 */
export const waves: Wave[] = [
  { wave: 0, name: 'database', dirs: ['database'] },
  { wave: 1, name: 'backend', dirs: ['migrate', 'backend'] },
  { wave: 2, name: 'frontend', dirs: ['frontend'] },
];

/** Folder (relative to the repository root) holding one environment's rendered manifests. */
export const renderedDir = (env: string) => `platform/rendered/${env}`;
/** Folder holding one environment's Argo CD Applications. */
export const argocdDir = (env: string) => `platform/argocd/${env}`;

export const namespaceOf = (values: Values, wave: WaveName) => values.namespaces[wave];
