/**
 * A task's entity tag and the `If-Match` request header (RFC 9110 §8.8.3, §13.1.1), shared with
 * the page as code (no imports). A task's ETag is its `version` (an integer from 1, +1 on every
 * change) as a strong entity-tag: the decimal number in double quotes, `"3"`.
 */

/** The ETag of a task at `version`: `"3"` (RFC 9110 §8.8.3, strong: no `W/`). */
export const entityTag = (version: number): string => `"${version}"`;

/**
 * What an `If-Match` header asks for:
 * - `any` (`*`): the write goes ahead when the task exists (§13.1.1);
 * - `versions`: the write goes ahead only when the task's version is one of these. Strong
 *   comparison (§8.8.3.2): a weak tag (`W/"3"`) never matches, nor does a tag that is not a
 *   version this API makes (`"03"`, `"abc"`), so such tags add nothing; an empty list matches no
 *   version.
 */
export type IfMatch = { any: true } | { any: false; versions: number[] };

/** The largest version a tag can name: the column is a PostgreSQL integer (migration 010). */
const MAX_VERSION = 2 ** 31 - 1;
/** One element of the list, with the optional whitespace around it (§5.6.1): `W/"…"` or `"…"`, etagc = %x21 / %x23-7E / obs-text. */
const ELEMENT = /^[ \t]*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*$/;

/**
 * Parses an `If-Match` field value: `*`, or a comma-separated list of one or more entity-tags
 * (empty list elements are skipped, as §5.6.1.2 asks of recipients; two header lines are refused
 * before this, header-lines.ts). Returns undefined when the value is neither (a bare `3`, `*` inside a list,
 * no tag at all): the request is malformed.
 */
export function parseIfMatch(value: string): IfMatch | undefined {
  if (value.trim() === '*') return { any: true };
  const versions: number[] = [];
  let tags = 0;
  for (const element of value.split(',')) {
    if (element.trim() === '') continue;
    const m = ELEMENT.exec(element);
    if (!m) return undefined;
    tags++;
    const opaque = m[2]!;
    if (m[1] === undefined && /^[1-9][0-9]{0,9}$/.test(opaque) && Number(opaque) <= MAX_VERSION) versions.push(Number(opaque));
  }
  return tags === 0 ? undefined : { any: false, versions };
}
