import { describe, expect, it } from 'vitest';
import { scheduleIntervalSeconds } from './schedule';

describe('scheduleIntervalSeconds', () => {
  it('gives the longest gap between runs', () => {
    expect(scheduleIntervalSeconds('*/15 * * * *')).toBe(900);
    expect(scheduleIntervalSeconds('0 * * * *')).toBe(3600);
    expect(scheduleIntervalSeconds('40 */6 * * *')).toBe(21_600);
    expect(scheduleIntervalSeconds('17 4 * * *')).toBe(86_400);
    // Uneven: 09:00 and 17:00 on weekdays; the longest gap is Friday 17:00 to Monday 09:00.
    expect(scheduleIntervalSeconds('0 9,17 * * 1-5')).toBe((2 * 24 + 16) * 3600);
  });

  it('names the expression it cannot read', () => {
    expect(() => scheduleIntervalSeconds('every 15 minutes')).toThrow(/schedule "every 15 minutes" is not a valid cron expression/);
    expect(() => scheduleIntervalSeconds('61 * * * *')).toThrow(/schedule "61 \* \* \* \*"/);
  });
});
