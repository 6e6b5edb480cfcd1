/**
 * What can go wrong in a backup or a restore, as one class with a kind. Each kind has its own exit
 * code, so scripts and the cluster's Jobs can tell them apart; the message is one line for a person
 * and never holds a secret (no connection string, no password, no token).
 */
export type BackupErrorKind =
  | 'usage' // a bad command line
  | 'config' // a bad BACKUP_URI or database configuration, or a database that was never migrated
  | 'not_found' // no backup with that id, or none at all
  | 'corrupt' // the backup is damaged: an object missing, or not matching its manifest (SHA-256, sizes, rows, schema)
  | 'not_empty' // the target already holds tasks and --replace was not given
  | 'incompatible' // a backup from a newer schema or format than this version knows
  | 'unreachable' // the storage or the database cannot be reached (after retries)
  | 'denied'; // the storage or the database refused the credentials

/** Exit codes: 2 usage and 78 configuration as every command here; the rest per kind (sysexits where one fits). */
export const EXIT_CODES: Record<BackupErrorKind, number> = {
  usage: 2,
  not_found: 3,
  corrupt: 4,
  not_empty: 5,
  incompatible: 6,
  unreachable: 69, // EX_UNAVAILABLE
  denied: 77, // EX_NOPERM
  config: 78, // EX_CONFIG
};

/**
 * What each exit code means, in the words the usage texts and the README's table use (a test
 * compares the README's table with this one). Exit 1 is any other failure, with its one line.
 */
export const EXIT_MEANINGS: Record<BackupErrorKind, string> = {
  usage: 'usage',
  not_found: 'no such backup',
  corrupt: 'damaged backup',
  not_empty: 'the database holds tasks',
  incompatible: 'a backup from a newer schema',
  unreachable: 'database or storage unreachable',
  denied: 'credentials refused',
  config: 'configuration',
};

/** `Exit codes: 0 <success>, 2 usage, …` for a usage text: the given kinds in code order. */
export function exitCodeSummary(success: string, kinds: BackupErrorKind[]): string {
  const parts = [...kinds].sort((a, b) => EXIT_CODES[a] - EXIT_CODES[b]).map((k) => `${EXIT_CODES[k]} ${EXIT_MEANINGS[k]}`);
  return `Exit codes: 0 ${success}, ${parts.join(', ')}.`;
}

export class BackupError extends Error {
  constructor(
    readonly kind: BackupErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackupError';
  }
}
