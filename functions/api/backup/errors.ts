/**
 * What can go wrong in a backup or a restore, as one class with a kind. Each kind has its own exit
 * code, so scripts and the cluster's Jobs can tell them apart; the message is one line for a person
 * and never holds a secret (no connection string, no password, no token).
 */
export type BackupErrorKind =
  | 'usage' // a bad command line
  | 'config' // a bad BACKUP_URI or database configuration
  | 'not_found' // no backup with that id, or none at all
  | 'corrupt' // the backup does not match its recorded SHA-256, sizes or row counts
  | 'not_empty' // the target already holds tasks and --replace was not given
  | 'incompatible' // the backup's schema cannot be restored by this version
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
