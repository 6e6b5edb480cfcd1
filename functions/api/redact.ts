import { parseDatabaseUrl } from './config.ts';

/**
 * The passwords the environment holds (DATABASE_URL's, in its user part or its `?password=`
 * parameter, as written and decoded, and DB_PASSWORD), so that no line a process prints on its
 * way out (a command's failure, a host's fatal line) can carry one, whatever a driver put in its
 * message. Strings shorter than 3 characters are left out: replacing them would mangle the line.
 */
export function secretsIn(env: Record<string, string | undefined>): string[] {
  const found = [env.DB_PASSWORD];
  try {
    const url = env.DATABASE_URL ? parseDatabaseUrl(env.DATABASE_URL).url : undefined;
    for (const password of [url?.password ?? '', url?.searchParams.get('password') ?? '']) {
      found.push(password);
      try {
        found.push(decodeURIComponent(password));
      } catch {
        // A malformed escape: the raw form is the one that could be echoed.
      }
    }
  } catch {
    // Not a URL: the configuration check says so, without the value.
  }
  return [...new Set(found.filter((s): s is string => Boolean(s && s.length >= 3)))];
}

/** `line` with every occurrence of each of `secrets` replaced by `***`. */
export function redact(line: string, secrets: string[]): string {
  return secrets.reduce((l, s) => l.split(s).join('***'), line);
}
