// The live scaling view: one screen per snapshot.
import { type Paint, paint, table, truncate } from './ansi';
import { podChart } from './chart';
import { formatAge, formatSeconds } from './conditions';
import type { ScaleEvent } from './scale-history';
import { grownPhases, START_PHASES, type PodStart, type RevisionPhase, type RevisionView, type ScaleSnapshot, type StartPhase } from './snapshot';
import type { PodSample } from './chart';

export interface ScaleViewOptions {
  env: string;
  color: boolean;
  /** Terminal columns: every line is cut to this width (Infinity: nothing is cut, as for piped output). */
  width: number;
  windowMs: number;
  intervalMs?: number;
  samples: PodSample[];
  events: ScaleEvent[];
  /** Finished starts seen earlier in the window (ScaleHistory.starts), also of pods gone since: what each start's phases are compared with, beside the other pods shown. */
  earlierStarts?: PodStart[];
  /** A transient error from the last refresh, shown above the (older) picture. */
  error?: string;
}

const phaseText: Record<RevisionPhase, string> = {
  zero: 'at zero',
  waking: 'waking up',
  'scaling-up': 'scaling up',
  'scaling-down': 'scaling down',
  bursting: 'bursting',
  steady: 'steady',
  failed: 'failed',
  retired: 'retired',
};

function phaseColor(p: Paint, phase: RevisionPhase): (s: string) => string {
  switch (phase) {
    case 'failed':
      return p.red;
    case 'bursting':
      return p.magenta;
    case 'waking':
    case 'scaling-up':
      return p.yellow;
    case 'steady':
      return p.green;
    case 'retired':
      return p.dim;
    default:
      return p.cyan;
  }
}

export function formatScaleView(snap: ScaleSnapshot, o: ScaleViewOptions): string {
  const p = paint(o.color);
  const now = Date.parse(snap.takenAt);
  const lines: string[] = [];
  const svc = snap.service;
  const readyMark = svc.ready === 'True' ? p.green('Ready') : svc.ready === 'False' ? p.red('Not ready') : p.yellow('Ready?');
  lines.push(
    `${p.bold(svc.name)}  ${p.dim('namespace')} ${snap.namespace}  ${p.dim('env')} ${o.env}  ${p.dim('context')} ${snap.context}  ${p.dim(snap.takenAt.slice(11, 19) + ' UTC')}`,
  );
  lines.push(`${readyMark}  ${svc.url ?? ''}${svc.reason ? `  ${p.red(svc.reason)}` : ''}`);
  if (o.error) lines.push(p.red(`! ${o.error}`));
  if (snap.unreadable.length) lines.push(p.yellow(`! no permission to list ${snap.unreadable.join(', ')}: partial view`));
  lines.push('');

  // Revisions: what the autoscaler wants, what Kubernetes runs, how traffic reaches it.
  const header = ['REVISION', 'TRAFFIC', 'STATE', 'DESIRED', 'ACTUAL', 'REQUESTED', 'READY', 'PENDING', 'MODE', 'TARGET'].map((h) => p.dim(h));
  const rows = snap.revisions.map((r) => revisionRow(p, r));
  lines.push(...table([header, ...rows], ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'l', 'r']));
  for (const r of snap.revisions.filter((x) => x.phase === 'failed' && x.reason)) lines.push(p.red(`  ${r.name}: ${r.reason}`));
  const bursting = snap.revisions.find((r) => r.phase === 'bursting');
  if (bursting) {
    lines.push(p.magenta(`  ${bursting.name}: activator back in the path while pods serve: load outgrew the spare capacity (autoscaler panic likely)`));
  }
  lines.push('');

  // Pod count over the window.
  const chartWidth = Math.max(20, Math.min(o.width - 8, 90));
  lines.push(`${p.bold('Pods')}  ${p.dim(`${'█'} ready  ${'░'} wanted, not ready yet`)}`);
  const samples = o.samples.length ? o.samples : [{ at: now, ready: snap.totals.ready, desired: snap.totals.desired }];
  lines.push(...podChart(samples, { now, windowMs: o.windowMs, width: chartWidth, height: 6 }).map((l) => colorChart(p, l)));
  lines.push('');

  // Cold starts: where each current pod's start time went, phase by phase, and which phase grew.
  lines.push(
    `${p.bold('Pod starts')}  ${p.dim('scheduled → initialized → containers ready → ready (pod conditions, 1 s) → first request answered (API log)')}`,
  );
  if (snap.podStarts.length === 0) {
    lines.push(p.dim('  no pods'));
  } else {
    const shown = snap.podStarts.slice(0, 6);
    const grown = grownPhases(shown, [...(o.earlierStarts ?? []), ...snap.podStarts]);
    const startHeader = ['POD', 'SCHEDULED', 'INIT', 'CONTAINERS', 'READY', '1ST REQUEST', 'TOTAL', 'AGE'].map((h) => p.dim(h));
    const startRows = shown.map((s) => podStartRow(p, s, now, new Set(grown.filter((g) => g.pod === s.pod).map((g) => g.phase))));
    lines.push(...table([startHeader, ...startRows], ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']).map((l) => `  ${l}`));
    lines.push(p.dim(`  TOTAL: creation → first request answered; ≥ marks creation → ready where the first request is not known yet${snap.unreadable.includes('pods/log') ? ' (pods/log not readable)' : ''}`));
    for (const g of grown) {
      const name = START_PHASES.find(([k]) => k === g.phase)![1];
      lines.push(
        p.yellow(`  ▲ ${g.pod}: ${name} took ${formatSeconds(g.seconds * 1000)} against ${formatSeconds(g.medianSeconds * 1000)} (median of ${g.of} other start${g.of === 1 ? '' : 's'})`),
      );
    }
  }
  lines.push('');

  lines.push(p.bold('Events'));
  const events = o.events.slice(-8);
  if (events.length === 0) lines.push(p.dim(o.intervalMs ? '  none yet: changes appear here as they happen' : '  (a single snapshot has no events; run without --once to watch)'));
  for (const e of events) lines.push(`  ${p.dim(e.at.slice(11, 19))}  ${e.revision}  ${eventColor(p, e)(e.text)}`);
  if (o.intervalMs) {
    lines.push('');
    lines.push(p.dim(`refreshing every ${formatSeconds(o.intervalMs)} · Ctrl-C to quit`));
  }
  return lines.map((l) => truncate(l, o.width)).join('\n');
}

function revisionRow(p: Paint, r: RevisionView): string[] {
  const n = (v: number | null) => (v === null ? '-' : String(v));
  const name = r.latestCreated ? p.bold(r.name) : r.name;
  const tags = r.tags.length ? p.dim(` (${r.tags.join(',')})`) : '';
  return [
    name + tags,
    `${r.traffic}%`,
    phaseColor(p, r.phase)(phaseText[r.phase]),
    n(r.pods.desired),
    n(r.pods.actual),
    n(r.pods.requested),
    String(r.pods.ready),
    r.pods.pending ? p.yellow(String(r.pods.pending)) : '0',
    r.mode === 'Proxy' ? p.cyan('Proxy') : r.mode ?? '-',
    r.autoscaling.target !== undefined ? String(r.autoscaling.target) : '-',
  ];
}

function podStartRow(p: Paint, s: PodStart, now: number, grown: Set<StartPhase>): string[] {
  const sec = (v: number | undefined) => (v === undefined ? '-' : formatSeconds(v * 1000));
  const phase = (k: StartPhase) => (grown.has(k) ? p.yellow(`▲ ${sec(s[k])}`) : sec(s[k]));
  const age = formatAge(now - Date.parse(s.createdAt));
  if (s.total === undefined) {
    return [s.pod, phase('scheduledAfter'), phase('initializedAfter'), p.yellow(s.waiting ?? 'waiting'), '-', '-', '-', age];
  }
  // TOTAL is the whole start, up to the first request answered; until that is known, the time to
  // Ready is a lower bound of it and is shown as one.
  const whole = s.answeredAfter ?? s.total;
  const total = s.answeredAfter !== undefined ? sec(s.answeredAfter) : `≥ ${sec(s.total)}`;
  return [
    s.pod,
    phase('scheduledAfter'),
    phase('initializedAfter'),
    phase('containersReadyAfter'),
    phase('readyAfter'),
    phase('firstRequestAfter'),
    whole > 5 ? p.yellow(total) : total,
    age,
  ];
}

function colorChart(p: Paint, line: string): string {
  return line.replace(/█+/g, (m) => p.green(m)).replace(/░+/g, (m) => p.yellow(m));
}

function eventColor(p: Paint, e: ScaleEvent): (s: string) => string {
  if (e.kind === 'cold-start') return p.cyan;
  if (e.kind === 'ready' && e.text.includes('→ False')) return p.red;
  if (e.kind === 'mode') return p.magenta;
  return (s) => s;
}
