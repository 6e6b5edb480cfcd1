import { describe, expect, it } from 'vitest';
import { entityTag, parseIfMatch } from './entity-tag';

describe('entity tags (RFC 9110 §8.8.3) and If-Match (§13.1.1)', () => {
  it('a task\'s ETag is its version as a strong tag', () => {
    expect(entityTag(1)).toBe('"1"');
    expect(entityTag(42)).toBe('"42"');
  });

  it.each([
    ['*', { any: true }],
    [' * ', { any: true }],
    ['"3"', { any: false, versions: [3] }],
    ['"3", "5"', { any: false, versions: [3, 5] }],
    ['"3","5"', { any: false, versions: [3, 5] }],
    ['"3", , "5",', { any: false, versions: [3, 5] }], // empty list elements are skipped (§5.6.1.2)
    ['\t"7"\t', { any: false, versions: [7] }],
    ['W/"3"', { any: false, versions: [] }], // weak: never matches under strong comparison
    ['W/"3", "4"', { any: false, versions: [4] }],
    ['"03"', { any: false, versions: [] }], // another tag than "3", character by character
    ['"abc"', { any: false, versions: [] }],
    ['""', { any: false, versions: [] }],
    ['"2147483647"', { any: false, versions: [2147483647] }],
    ['"2147483648"', { any: false, versions: [] }], // past the integer column: no version can have it
    ['"99999999999"', { any: false, versions: [] }],
    ['"\u00e9t\u00e9"', { any: false, versions: [] }], // obs-text is allowed in a tag
  ])('%j → %j', (value, expected) => {
    expect(parseIfMatch(value)).toEqual(expected);
  });

  it.each([
    ['a bare number', '3'],
    ['empty', ''],
    ['only commas and spaces', ' , ,'],
    ['* inside a list', '*, "3"'],
    ['a lowercase weak prefix', 'w/"3"'],
    ['an unterminated tag', '"3'],
    ['a space inside a tag', '"3 4"'],
    ['a quote inside a tag', '"3"4"'],
    ['two tags without a comma', '"3" "4"'],
    ['a control character', '"3\u0001"'],
  ])('%s is malformed', (_name, value) => {
    expect(parseIfMatch(value)).toBeUndefined();
  });
});
