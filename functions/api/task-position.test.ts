import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { integerPosition, MAX_POSITION_LENGTH, positionBetween, positionProblem } from './task-position';

/** Byte order, as PostgreSQL's COLLATE "C" compares (JavaScript's < on these ASCII strings is the same). */
const below = (a: string, b: string) => a < b;

/** Keys made the way the page makes them: a sequence of inserts at random places in a list. */
const insertions = fc.array(fc.nat(), { minLength: 1, maxLength: 200 });

function build(places: number[]): string[] {
  const keys: string[] = [];
  for (const place of places) {
    const at = place % (keys.length + 1);
    keys.splice(at, 0, positionBetween(keys[at - 1] ?? null, keys[at] ?? null));
  }
  return keys;
}

describe('positionBetween', () => {
  it('gives a valid key strictly between its neighbours, for any sequence of inserts', () => {
    fc.assert(
      fc.property(insertions, (places) => {
        const keys = build(places);
        for (let i = 0; i < keys.length; i++) {
          expect(positionProblem(keys[i])).toBeNull();
          if (i > 0) expect(below(keys[i - 1]!, keys[i]!)).toBe(true);
        }
      }),
    );
  });

  it('gives valid keys at the ends of the key space too: past the largest integer part, below the smallest', () => {
    const largest = `z${'z'.repeat(26)}`;
    const smallest = `A${'0'.repeat(26)}`;
    const edges = [`${smallest}001`, `${smallest}V`, `A${'0'.repeat(25)}1`, 'Zz', 'a0', `z${'z'.repeat(25)}y`, largest, `${largest}V`, `${largest}zzz`];
    fc.assert(
      fc.property(fc.subarray(edges, { minLength: 1 }), insertions, (seed, places) => {
        const keys = [...seed];
        for (const place of places) {
          const at = place % (keys.length + 1);
          keys.splice(at, 0, positionBetween(keys[at - 1] ?? null, keys[at] ?? null));
        }
        for (let i = 0; i < keys.length; i++) {
          expect(positionProblem(keys[i])).toBeNull();
          if (i > 0) expect(below(keys[i - 1]!, keys[i]!)).toBe(true);
        }
      }),
    );
    expect(positionBetween(largest, null)).toBe(`${largest}V`);
    expect(positionBetween(null, `A${'0'.repeat(25)}1`)).toBe(`${smallest}V`);
  });

  it('between any two distinct keys there is another', () => {
    fc.assert(
      fc.property(insertions, fc.nat(), fc.nat(), (places, i, j) => {
        const keys = build(places);
        if (keys.length < 2) return;
        const [a, b] = [keys[i % keys.length]!, keys[j % keys.length]!].sort();
        if (a === b) return;
        const mid = positionBetween(a, b);
        expect(below(a, mid) && below(mid, b)).toBe(true);
      }),
    );
  });

  it('appending or prepending keeps keys short (the integer part grows, not the fraction)', () => {
    let last: string | null = null;
    let first: string | null = null;
    for (let i = 0; i < 5000; i++) {
      last = positionBetween(last, null);
      first = positionBetween(null, first);
    }
    expect(last!.length).toBeLessThanOrEqual(4);
    expect(first!.length).toBeLessThanOrEqual(4);
  });

  it('moves into the same gap grow a key by about one digit per six moves', () => {
    let [a, b] = ['a0', 'a1'];
    for (let i = 0; i < 600; i++) b = positionBetween(a, b);
    expect(b.length).toBeLessThan(MAX_POSITION_LENGTH);
  });

  it('knows the fixed points', () => {
    expect(positionBetween(null, null)).toBe('a0');
    expect(positionBetween('a0', null)).toBe('a1');
    expect(positionBetween('az', null)).toBe('b00');
    expect(positionBetween(null, 'a0')).toBe('Zz');
    expect(positionBetween('a0', 'a1')).toBe('a0V');
    expect(positionBetween('a0', 'a0V')).toBe('a0G');
    expect(positionBetween('a0V', 'a1')).toBe('a0l');
  });

  it('refuses ties, wrong order and non-keys', () => {
    expect(() => positionBetween('a1', 'a1')).toThrow(RangeError);
    expect(() => positionBetween('a2', 'a1')).toThrow(RangeError);
    expect(() => positionBetween('a10', null)).toThrow(RangeError);
    expect(() => positionBetween(null, 'x')).toThrow(RangeError);
  });
});

describe('integerPosition', () => {
  it('is appending n times from a0, and sorts as n does', () => {
    let key: string | null = null;
    for (let n = 0; n < 4000; n++) {
      key = positionBetween(key, null);
      expect(integerPosition(n)).toBe(key);
    }
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), (m, n) => {
        expect(below(integerPosition(m), integerPosition(n))).toBe(m < n);
      }),
    );
  });
});

describe('positionProblem', () => {
  it.each([
    ['a0', null],
    ['a0V', null],
    ['Zz', null],
    ['b00', null],
    [`z${'0'.repeat(26)}`, null],
    ['', 'position is not a valid position key'],
    ['a', 'position is not a valid position key'],
    ['b0', 'position is not a valid position key'],
    ['a00', 'position is not a valid position key'],
    ['0a', 'position is not a valid position key'],
    ['a0-', 'position is not a valid position key'],
    ['a0 ', 'position is not a valid position key'],
    ['a0é', 'position is not a valid position key'],
    [`A${'0'.repeat(26)}`, 'position is not a valid position key'],
    [`A${'0'.repeat(26)}V`, null],
    [`{${'0'.repeat(27)}`, 'position is not a valid position key'],
    [`a0${'V'.repeat(MAX_POSITION_LENGTH)}`, `position must be at most ${MAX_POSITION_LENGTH} characters`],
    [3, 'position must be a string'],
    [null, 'position must be a string'],
  ])('%j → %j', (key, problem) => {
    expect(positionProblem(key)).toBe(problem);
  });
});
