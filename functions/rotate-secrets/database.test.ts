import { describe, expect, it } from 'vitest';
import { parseConnectTo, scramSha256Verifier } from './database';

describe('parseConnectTo', () => {
  it('reads host:port', () => {
    expect(parseConnectTo('127.0.0.1:15432')).toEqual({ host: '127.0.0.1', port: 15432 });
    expect(parseConnectTo('internal-db.elb.eu-central-1.amazonaws.com:5432')).toMatchObject({ port: 5432 });
    expect(parseConnectTo(undefined)).toBeUndefined();
  });

  it('refuses anything else', () => {
    for (const bad of ['localhost', 'db:0', 'db:70000', 'db:54x', 'postgres://db:5432']) expect(() => parseConnectTo(bad)).toThrow(/expected host:port/);
  });
});

describe('scramSha256Verifier', () => {
  it('has the layout PostgreSQL stores, and a fresh salt each time', () => {
    const verifier = scramSha256Verifier('Correct-Horse-Battery-Staple-42');
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(verifier).not.toContain('Correct-Horse');
    expect(scramSha256Verifier('Correct-Horse-Battery-Staple-42')).not.toBe(verifier);
  });

  it('is deterministic for a given salt (PostgreSQL accepting it is checked in test/rotation.test.ts)', () => {
    const salt = Buffer.alloc(16, 7);
    expect(scramSha256Verifier('pencil', salt)).toBe(scramSha256Verifier('pencil', salt));
    expect(scramSha256Verifier('pencil', salt)).not.toBe(scramSha256Verifier('pencil2', salt));
  });

  it('refuses passwords outside printable ASCII', () => {
    expect(() => scramSha256Verifier('pässword')).toThrow(/printable ASCII/);
  });
});
