import { describe, expect, it } from 'vitest';
import { pgQuery, statementName } from './prepared';

describe('prepared statements', () => {
  it('names a text the same every time, two texts apart, within PostgreSQL identifier length', () => {
    const a = statementName('SELECT $1::int');
    expect(statementName('SELECT $1::int')).toBe(a);
    expect(statementName('SELECT $1::int ')).not.toBe(a);
    expect(a).toMatch(/^s[0-9a-f]{24}$/);
    expect(Buffer.byteLength(statementName('x'.repeat(10_000)))).toBeLessThanOrEqual(63);
  });

  it('sends a named statement only when asked to', () => {
    expect(pgQuery('SELECT $1', [1], undefined)).toBe('SELECT $1');
    expect(pgQuery('SELECT $1', [1], {})).toBe('SELECT $1');
    expect(pgQuery('SELECT $1', [1], { prepare: true })).toEqual({ name: statementName('SELECT $1'), text: 'SELECT $1', values: [1] });
  });
});
