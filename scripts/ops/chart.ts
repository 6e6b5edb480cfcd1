// A small terminal chart of pod count over time: solid blocks for ready pods, light shade for pods
// the autoscaler wants but that are not ready yet (a cold start or scale-up in progress).

export interface PodSample {
  /** Epoch milliseconds. */
  at: number;
  /** Ready pods (sum over revisions). */
  ready: number;
  /** Pods the autoscaler wants (sum over revisions). */
  desired: number;
}

export interface ChartOptions {
  now: number;
  windowMs: number;
  /** Columns for the plot itself (the axis labels come on top). */
  width: number;
  height: number;
}

const READY = '█';
const WANTED = '░';

/**
 * Highest value per column. A count holds until the next sample, so columns between samples
 * repeat the last one; columns before the first sample (before the watch began) stay empty.
 */
export function bucket(samples: PodSample[], o: Pick<ChartOptions, 'now' | 'windowMs' | 'width'>): (PodSample | undefined)[] {
  const start = o.now - o.windowMs;
  const step = o.windowMs / o.width;
  const columns: (PodSample | undefined)[] = new Array(o.width).fill(undefined);
  for (const s of samples) {
    if (s.at <= start || s.at > o.now) continue;
    const i = Math.min(o.width - 1, Math.floor((s.at - start) / step));
    const c = columns[i];
    columns[i] = c ? { at: s.at, ready: Math.max(c.ready, s.ready), desired: Math.max(c.desired, s.desired) } : { ...s };
  }
  const last = samples.filter((s) => s.at <= o.now).at(-1)?.at ?? -Infinity;
  for (let i = 1; i < columns.length; i++) {
    const columnStart = start + i * step;
    if (!columns[i] && columns[i - 1] && columnStart <= last) columns[i] = columns[i - 1];
  }
  return columns;
}

/** Lines of the chart, top row first, with a y axis in pods and an x axis in time. */
export function podChart(samples: PodSample[], o: ChartOptions): string[] {
  const columns = bucket(samples, o);
  const top = Math.max(1, ...columns.map((c) => Math.max(c?.ready ?? 0, c?.desired ?? 0)));
  const rows = Math.max(1, Math.min(o.height, top));
  // With more pods than rows each row stands for several pods; label rows with what they mean.
  const levelOf = (row: number) => Math.ceil((top * row) / rows);
  const labelWidth = String(top).length;
  const lines: string[] = [];
  for (let row = rows; row >= 1; row--) {
    const level = levelOf(row);
    const cells = columns.map((c) => (!c ? ' ' : c.ready >= level ? READY : c.desired >= level ? WANTED : ' ')).join('');
    lines.push(`${String(level).padStart(labelWidth)} ┤${cells}`);
  }
  lines.push(`${'0'.padStart(labelWidth)} └${'─'.repeat(o.width)}`);
  const left = `-${formatWindow(o.windowMs)}`;
  lines.push(`${' '.repeat(labelWidth + 2)}${left}${'now'.padStart(o.width - left.length)}`);
  return lines;
}

export function formatWindow(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m}m` : `${Math.round(m / 60)}h`;
}
