import { describe, expect, it } from 'vitest';
import { environments, loadValues } from './values';
import { checkRotationTiming, durationSeconds, propagationTerms } from './rotation-timing';

describe('rotation timing rule', () => {
  it.each(environments)('holds for the committed values (%s)', (env) => {
    const values = loadValues(env);
    expect(() => checkRotationTiming(values)).not.toThrow();
    const total = propagationTerms(values).reduce((s, t) => s + t.seconds, 0);
    expect(values.secrets.rotationDays * 86_400).toBeGreaterThan(total);
  });

  it('fails with a message naming each figure and what to change', () => {
    const values = loadValues('prod');
    const broken = { ...values, secrets: { ...values.secrets, refreshInterval: '24h', rotationDays: 1 } };
    expect(() => checkRotationTiming(broken)).toThrow(
      /rotation timing rule broken for environment "prod": the rotation interval \(1 days = 86400 s\) must exceed .*86400 s ESO refreshInterval \(secrets.refreshInterval\).*Raise secrets.rotationDays/,
    );
    // The interval given on the command line is checked the same way.
    expect(() => checkRotationTiming({ ...values, secrets: { ...values.secrets, refreshInterval: '24h' } }, 2)).not.toThrow();
  });

  it('reads durations in seconds, minutes and hours', () => {
    expect([durationSeconds('45s'), durationSeconds('1m'), durationSeconds('2h')]).toEqual([45, 60, 7200]);
    expect(() => durationSeconds('1d')).toThrow('not a duration: 1d');
  });
});
