import { describe, expect, it } from 'vitest';
import { bucket, formatWindow, podChart } from './chart';

const now = 100_000;

describe('podChart', () => {
  it('draws ready pods solid and wanted-but-not-ready shaded, oldest on the left', () => {
    const samples = [
      { at: now - 11_000, ready: 0, desired: 0 },
      { at: now - 8_000, ready: 0, desired: 2 },
      { at: now - 5_000, ready: 1, desired: 2 },
      { at: now - 1_000, ready: 2, desired: 2 },
    ];
    expect(podChart(samples, { now, windowMs: 12_000, width: 4, height: 6 })).toEqual([
      '2 ┤ ░░█',
      '1 ┤ ░██',
      '0 └────',
      '   -12snow',
    ]);
  });

  it('scales rows when there are more pods than rows', () => {
    const lines = podChart([{ at: now, ready: 10, desired: 10 }], { now, windowMs: 60_000, width: 10, height: 5 });
    expect(lines.slice(0, 5).map((l) => l.slice(0, 3))).toEqual(['10 ', ' 8 ', ' 6 ', ' 4 ', ' 2 ']);
    expect(lines[0]!.endsWith('█')).toBe(true);
  });

  it('leaves columns before the first sample empty', () => {
    const columns = bucket([{ at: now, ready: 1, desired: 1 }], { now, windowMs: 10_000, width: 5 });
    expect(columns.map((c) => c?.ready)).toEqual([undefined, undefined, undefined, undefined, 1]);
  });

  it('keeps the highest value when several samples share a column', () => {
    const columns = bucket(
      [
        { at: now - 500, ready: 3, desired: 1 },
        { at: now - 100, ready: 1, desired: 4 },
      ],
      { now, windowMs: 10_000, width: 5 },
    );
    expect(columns[4]).toMatchObject({ ready: 3, desired: 4 });
  });
});

describe('formatWindow', () => {
  it('uses the largest sensible unit', () => {
    expect(formatWindow(30_000)).toBe('30s');
    expect(formatWindow(300_000)).toBe('5m');
    expect(formatWindow(3 * 3_600_000)).toBe('3h');
  });
});
