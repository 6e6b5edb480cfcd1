/** What the server knows about itself; /readyz reports it. */
export interface AppState {
  shuttingDown: boolean;
  /** Set once the schema is known to be current; a later database outage does not unset it. */
  migrated: boolean;
  /** Set while start-up migrations run (PGlite, MIGRATE_ON_START). */
  migrating?: Promise<unknown>;
}
