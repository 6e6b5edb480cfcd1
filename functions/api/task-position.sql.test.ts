import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/support/postgres';
import { loadConfig } from './config';
import type { Db } from './db';
import { createPgDb } from './db/pg';
import { createPgliteDb } from './db/pglite';
import { createLogger } from './logger';
import { migrate } from './migrations/runner';
import { POSITION_DIGITS, positionBetween, positionProblem } from './task-position';

/**
 * The position rule in SQL (migrations 012 and 014) and in task-position.ts agree: the same keys
 * are valid, and the key a create gets after the last one is the page's positionBetween(last, null).
 */
const log = createLogger('silent');
const largest = `z${'z'.repeat(26)}`;
const smallest = `A${'0'.repeat(26)}`;
const EDGES = [`${smallest}V`, `A${'0'.repeat(25)}1`, 'Zz', 'a0', 'az', 'b00', `z${'z'.repeat(25)}y`, largest, `${largest}V`, `${largest}zzzy`, `${largest}${'z'.repeat(200)}`];

/** Valid keys as the page makes them: inserts at random places among some edge keys. */
const keys = fc.tuple(fc.subarray(EDGES), fc.array(fc.nat(), { maxLength: 60 })).map(([seed, places]) => {
  const list = [...seed];
  for (const place of places) {
    const at = place % (list.length + 1);
    list.splice(at, 0, positionBetween(list[at - 1] ?? null, list[at] ?? null));
  }
  return list;
});
/** Strings near keys: valid ones and almost-valid ones (wrong length, trailing 0, other characters). */
const nearKeys = fc.array(
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...POSITION_DIGITS, '{', '-', ' ', 'é'), maxLength: 30 }),
    fc.constantFrom(...EDGES, smallest, '{0', `{${'0'.repeat(27)}`, 'a00', 'b0', '', `a0${'V'.repeat(254)}`),
  ),
  { maxLength: 50 },
);

function describeRule(name: string, open: () => Promise<{ db: Db; cleanup: () => Promise<void> }>) {
  describe(`position keys in SQL on ${name}`, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ db, cleanup } = await open());
      await migrate(db);
    });
    afterAll(async () => cleanup?.());

    it('task_position_valid is positionProblem(key) === null', async () => {
      await fc.assert(
        fc.asyncProperty(nearKeys, async (list) => {
          const rows = await db.query<{ k: string; valid: boolean }>('SELECT k, task_position_valid(k) AS valid FROM unnest($1::text[]) WITH ORDINALITY AS u (k, n) ORDER BY n', [list]);
          expect(rows.map((r) => r.valid)).toEqual(list.map((k) => positionProblem(k) === null));
        }),
        { numRuns: 60 },
      );
    });

    it('task_position_after(key) is positionBetween(key, null) from a0 up (a0 below it), and always valid', async () => {
      await fc.assert(
        fc.asyncProperty(keys, async (list) => {
          const rows = await db.query<{ after: string }>('SELECT task_position_after(k) AS after FROM unnest($1::text[]) WITH ORDINALITY AS u (k, n) ORDER BY n', [list]);
          rows.forEach(({ after }, i) => {
            const key = list[i]!;
            if (after.length <= 255) expect(positionProblem(after)).toBeNull();
            expect(after).toBe(key >= 'a' ? positionBetween(key, null) : 'a0');
          });
        }),
        { numRuns: 60 },
      );
    });
  });
}

describeRule('pglite', async () => {
  const db = await createPgliteDb('memory://');
  return { db, cleanup: () => db.close() };
});

describeRule('pg', async () => {
  const database = await createTestDatabase('tasks_positions');
  const db = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, log);
  return {
    db,
    cleanup: async () => {
      await db.close();
      await database.drop();
    },
  };
});
