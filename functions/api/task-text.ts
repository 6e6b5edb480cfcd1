/**
 * What a task's text may be: the one rule, used by the API's zod schema (`schemas.ts`) and by the
 * page's fields (`web/src/`). Plain code with no imports, so the page bundle carries a few bytes of
 * it and no zod.
 */

/** The previous system stored tasks in VARCHAR(255); PostgreSQL counts that limit in characters (code points). */
export const MAX_TASK_LENGTH = 255;

/**
 * The length of `text` as PostgreSQL's `char_length` counts it in a UTF-8 database: Unicode code
 * points, not UTF-16 units (`'👍'.length` is 2, its length here 1) and not user-perceived characters
 * (`e` + U+0301 COMBINING ACUTE ACCENT is 2). The browser's `maxlength` counts UTF-16 units, so the
 * page never uses it.
 */
export function taskLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Why a text is not a valid task, in the order they are checked. */
export type TaskTextProblem = 'empty' | 'too_long' | 'nul' | 'lone_surrogate';

// A surrogate that is not half of a pair: JSON's "\ud800" decodes to one. UTF-8 cannot encode it, so
// storing it would turn it into U+FFFD: refused instead, the text comes back exactly as sent or not at all.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The first problem with `text` as a task (`null` when it is fine): empty or only white space
 * (kept as sent otherwise), longer than {@link MAX_TASK_LENGTH} code points, containing U+0000
 * (PostgreSQL text cannot hold it), or a lone UTF-16 surrogate (not Unicode text).
 */
export function taskTextProblem(text: string): TaskTextProblem | null {
  if (text.trim() === '') return 'empty';
  if (taskLength(text) > MAX_TASK_LENGTH) return 'too_long';
  if (text.includes('\u0000')) return 'nul';
  if (LONE_SURROGATE.test(text)) return 'lone_surrogate';
  return null;
}
