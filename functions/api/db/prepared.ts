import { createHash } from 'node:crypto';
import type { QueryOptions } from './types';

/** A node-postgres query config (`{ name, text, values }`), which pg.Pool and Neon's Pool both take. */
export interface NamedQuery {
  name: string;
  text: string;
  values: unknown[] | undefined;
}

/** Statement names by text: hashing a 2 KB write statement on every call would cost more than the lookup. */
const names = new Map<string, string>();

/**
 * The name of the prepared statement for `text`: `s` and the first 24 hex digits of its SHA-1, so
 * one text always has one name on every connection and two texts never share one (node-postgres
 * refuses a name reused for another text: "Prepared statements must be unique"). Names stay under
 * PostgreSQL's 63-byte identifier limit (NAMEDATALEN).
 */
export function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `s${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * What to hand a pg-compatible `query()`: with `prepare`, a named statement, which node-postgres
 * parses once per connection (Parse, then only Bind/Execute) and PostgreSQL plans once per
 * connection (its plan cache: five custom plans, then the generic plan when it is no costlier;
 * PostgreSQL docs, "PREPARE", Notes). Without it, the unnamed statement, parsed and planned on
 * every call. Only for texts that do not vary with the request (values go in `values`): each name
 * holds a plan on every connection for the connection's life. These are protocol-level named
 * statements, not SQL `PREPARE`: behind PgBouncer in transaction mode they need PgBouncer 1.21 or
 * later with `max_prepared_statements` above 0 (PgBouncer docs, "max_prepared_statements").
 */
export function pgQuery(text: string, values: unknown[] | undefined, options: QueryOptions | undefined): NamedQuery | string {
  return options?.prepare ? { name: statementName(text), text, values } : text;
}
