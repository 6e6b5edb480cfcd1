import { describe, expect, it } from 'vitest';
import { alternateUsername, baseRole, grantRoleSql, loginRoleSql, quoteIdent, scramSha256Verifier } from './postgres-roles';

describe('alternateUsername', () => {
  it('toggles between the user and its clone', () => {
    expect(alternateUsername('tasks_app')).toBe('tasks_app_clone');
    expect(alternateUsername('tasks_app_clone')).toBe('tasks_app');
  });

  it('refuses names whose clone would not fit in a PostgreSQL identifier', () => {
    expect(() => alternateUsername('a'.repeat(60))).toThrow(/no valid alternate/);
    expect(() => alternateUsername('_clone')).toThrow(/no valid alternate/);
  });
});

describe('baseRole', () => {
  it('is the role holding the grants for either user of the pair', () => {
    expect(baseRole('tasks_app')).toBe('tasks_app');
    expect(baseRole('tasks_app_clone')).toBe('tasks_app');
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

describe('role SQL', () => {
  it('sends the verifier, never the password, and quotes the role', () => {
    const sql = loginRoleSql('CREATE', 'tasks_app', 'Correct-Horse-Battery-Staple-42');
    expect(sql).toMatch(/^CREATE ROLE "tasks_app" WITH LOGIN PASSWORD 'SCRAM-SHA-256\$4096:[^']+'$/);
    expect(sql).not.toContain('Correct-Horse');
    expect(loginRoleSql('ALTER', 'a"b', 'pw')).toMatch(/^ALTER ROLE "a""b" WITH LOGIN PASSWORD 'SCRAM-SHA-256\$/);
    expect(grantRoleSql('tasks_app', 'tasks_app_clone')).toBe('GRANT "tasks_app" TO "tasks_app_clone"');
    expect(quoteIdent('x"y')).toBe('"x""y"');
  });
});
