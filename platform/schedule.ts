// What a CronJob schedule means in seconds, for the thresholds that depend on it (the backup alert,
// the doctor's "too old" verdict). Read with cron-parser, the way the CronJob controller reads the
// five fields, in UTC (the CronJobs set timeZone Etc/UTC).
import { CronExpressionParser } from 'cron-parser';

/** The time zone every CronJob of the platform runs in; the intervals below are computed in it. */
export const cronTimeZone = 'Etc/UTC';

/**
 * The longest gap in seconds between two consecutive runs of `schedule` (e.g. 900 for "*\/15 * * * *",
 * 86400 for "17 4 * * *"), over 35 days from a fixed date so the answer never depends on today.
 * Throws an Error naming the expression when cron-parser rejects it or it never fires.
 */
export function scheduleIntervalSeconds(schedule: string): number {
  const from = new Date('2026-01-01T00:00:00Z');
  const until = from.getTime() + 35 * 86_400_000;
  let expression;
  try {
    expression = CronExpressionParser.parse(schedule, { currentDate: from, tz: cronTimeZone });
  } catch (err) {
    throw new Error(`schedule "${schedule}" is not a valid cron expression: ${(err as Error).message}`);
  }
  let previous = expression.next().getTime();
  let longest = 0;
  for (let i = 0; i < 5000 && previous < until; i++) {
    const next = expression.next().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  if (longest === 0) throw new Error(`schedule "${schedule}" does not fire twice in 35 days`);
  return longest / 1000;
}
