/**
 * A task's place in the person's order: a fractional index, a string that sorts (byte by byte,
 * PostgreSQL's `COLLATE "C"`) where the task belongs, so a move writes one row, never a renumber.
 * The one rule, used by the API's zod schema (`schemas.ts`), migration 012 (which makes the same
 * integer keys in SQL) and the page (`web/src/stores/taskOrder.ts`). Plain code with no imports.
 *
 * The format is that of David Greenspan's "Implementing Fractional Indexing" (2020), as the
 * `fractional-indexing` npm package writes it, base 62 (`0-9A-Za-z`, in ASCII order):
 * - an integer part: a head letter giving its length (`a` one digit, `b` two, … `z` 26; `Z` one
 *   digit below zero, `Y` two, … `A` 26), then that many digits: `a0` is 0, `az` 61, `b00` 62;
 * - then an optional fraction, which never ends in `0` (so between any two keys there is another).
 * Appending after the last key increments the integer part (keys stay short however many tasks are
 * added at the end); a key between two neighbours takes the fraction's midpoint.
 */

export const POSITION_DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The longest position the API stores; a key between two neighbours grows by one digit per about six moves into the same gap. */
export const MAX_POSITION_LENGTH = 255;

const ZERO = POSITION_DIGITS[0]!;
const LAST = POSITION_DIGITS[POSITION_DIGITS.length - 1]!;
/**
 * The smallest integer part: not a key by itself (nothing could go before it), only with a
 * fraction; a key before the smallest such key takes a smaller fraction.
 */
const SMALLEST_INTEGER = `A${ZERO.repeat(26)}`;

/** The length of the integer part that starts with `head`, or 0 when `head` starts none. */
function integerLength(head: string | undefined): number {
  if (head === undefined) return 0;
  if (head >= 'a' && head <= 'z') return head.charCodeAt(0) - 97 + 2;
  if (head >= 'A' && head <= 'Z') return 90 - head.charCodeAt(0) + 2;
  return 0;
}

/** Why `key` is not a position (`null` when it is one). */
export function positionProblem(key: unknown): string | null {
  if (typeof key !== 'string') return 'position must be a string';
  if (key.length > MAX_POSITION_LENGTH) return `position must be at most ${MAX_POSITION_LENGTH} characters`;
  const length = integerLength(key[0]);
  if (length === 0 || key.length < length) return 'position is not a valid position key';
  for (const ch of key) if (!POSITION_DIGITS.includes(ch)) return 'position is not a valid position key';
  if (key === SMALLEST_INTEGER || key.endsWith(ZERO) && key.length > length) return 'position is not a valid position key';
  return null;
}

const digit = (d: string) => POSITION_DIGITS.indexOf(d);

/** A fraction strictly between fractions `a` and `b` (`b` null: 1), neither ending in 0, `a < b`. */
function midpoint(a: string, b: string | null): string {
  if (b !== null) {
    // The common prefix (a padded with zeros) stays; the midpoint is taken after it.
    let n = 0;
    while ((a[n] ?? ZERO) === b[n]) n++;
    if (n > 0) return b.slice(0, n) + midpoint(a.slice(n), b.slice(n));
  }
  const da = a ? digit(a[0]!) : 0;
  const db = b !== null ? digit(b[0]!) : POSITION_DIGITS.length;
  if (db - da > 1) return POSITION_DIGITS[Math.round((da + db) / 2)]!;
  // Adjacent first digits: b's first digit alone if b goes on, else a's first digit and a midpoint after it.
  if (b !== null && b.length > 1) return b.slice(0, 1);
  return POSITION_DIGITS[da]! + midpoint(a.slice(1), null);
}

function splitKey(key: string): [integer: string, fraction: string] {
  const length = integerLength(key[0]);
  return [key.slice(0, length), key.slice(length)];
}

/** The next integer part, or null past the largest (`z` and 26 last digits). */
function increment(integer: string): string | null {
  const head = integer[0]!;
  const digits = integer.slice(1).split('');
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = digit(digits[i]!) + 1;
    if (d < POSITION_DIGITS.length) {
      digits[i] = POSITION_DIGITS[d]!;
      return head + digits.join('');
    }
    digits[i] = ZERO;
  }
  // Every digit carried: the next length.
  if (head === 'Z') return `a${ZERO}`;
  if (head === 'z') return null;
  const next = String.fromCharCode(head.charCodeAt(0) + 1);
  if (next > 'a') digits.push(ZERO);
  else digits.pop();
  return next + digits.join('');
}

/** The previous integer part, or null before the smallest. */
function decrement(integer: string): string | null {
  const head = integer[0]!;
  const digits = integer.slice(1).split('');
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = digit(digits[i]!) - 1;
    if (d >= 0) {
      digits[i] = POSITION_DIGITS[d]!;
      return head + digits.join('');
    }
    digits[i] = LAST;
  }
  if (head === 'a') return `Z${LAST}`;
  if (head === 'A') return null;
  const next = String.fromCharCode(head.charCodeAt(0) - 1);
  if (next < 'Z') digits.push(LAST);
  else digits.pop();
  return next + digits.join('');
}

/**
 * A position strictly between `before` and `after` (null: no task on that side), short where it
 * can be. Throws a RangeError when either is not a position or `before` is not below `after`
 * (a tie: two tasks at one position, which the list orders by id).
 */
export function positionBetween(before: string | null, after: string | null): string {
  for (const key of [before, after]) {
    const problem = key === null ? null : positionProblem(key);
    if (problem) throw new RangeError(`${problem}: ${JSON.stringify(key)}`);
  }
  if (before !== null && after !== null && before >= after) throw new RangeError(`${before} is not below ${after}`);
  if (before === null && after === null) return `a${ZERO}`;
  if (before === null) {
    const [integer, fraction] = splitKey(after!);
    if (integer === SMALLEST_INTEGER) return integer + midpoint('', fraction);
    if (fraction) return integer;
    const lower = decrement(integer)!;
    // The smallest integer part is no key by itself: below `after` it goes with a fraction.
    return lower === SMALLEST_INTEGER ? lower + midpoint('', null) : lower;
  }
  const [integer, fraction] = splitKey(before);
  if (after === null) return increment(integer) ?? integer + midpoint(fraction, null);
  const [afterInteger, afterFraction] = splitKey(after);
  if (integer === afterInteger) return integer + midpoint(fraction, afterFraction);
  const next = increment(integer)!;
  return next < after ? next : integer + midpoint(fraction, null);
}

/**
 * The `n`th integer position from `a0` (0, 1, 2, …): what migration 012 gives existing tasks in
 * id order and a new task past the last one. The same as `positionBetween` appending n times.
 */
export function integerPosition(n: number): string {
  let length = 1;
  let span = POSITION_DIGITS.length;
  while (n >= span) {
    n -= span;
    length++;
    span *= POSITION_DIGITS.length;
  }
  let digits = '';
  for (let i = 0; i < length; i++) {
    digits = POSITION_DIGITS[n % POSITION_DIGITS.length] + digits;
    n = Math.floor(n / POSITION_DIGITS.length);
  }
  return String.fromCharCode(96 + length) + digits;
}
