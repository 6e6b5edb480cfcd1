// What a live watch remembers between snapshots: pod counts for the chart, and the scale events
// seen by comparing each snapshot with the one before (Knative records none of these itself).
import type { PodSample } from './chart';
import { formatSeconds } from './conditions';
import type { PodStart, RevisionView, ScaleSnapshot } from './snapshot';

export type ScaleEventKind = 'revision' | 'ready' | 'scale' | 'pods' | 'mode' | 'traffic' | 'cold-start';

export interface ScaleEvent {
  at: string;
  revision: string;
  kind: ScaleEventKind;
  text: string;
}

/** Events between two snapshots of the same service. */
export function diffSnapshots(prev: ScaleSnapshot, next: ScaleSnapshot): ScaleEvent[] {
  const at = next.takenAt;
  const events: ScaleEvent[] = [];
  const before = new Map(prev.revisions.map((r) => [r.name, r]));
  const add = (revision: string, kind: ScaleEventKind, text: string) => events.push({ at, revision, kind, text });

  for (const r of next.revisions) {
    const p = before.get(r.name);
    if (!p) {
      add(r.name, 'revision', `new revision ${r.name}${r.ready === 'False' ? ` (failing: ${r.reason})` : ''}`);
      continue;
    }
    if (p.ready !== r.ready) add(r.name, 'ready', `Ready ${p.ready} → ${r.ready}${r.reason ? `: ${r.reason}` : ''}`);
    if (p.pods.desired !== r.pods.desired) add(r.name, 'scale', `autoscaler wants ${p.pods.desired ?? '?'} → ${r.pods.desired ?? '?'} pods${scaleHint(p, r)}`);
    if (p.pods.ready !== r.pods.ready) add(r.name, 'pods', `ready pods ${p.pods.ready} → ${r.pods.ready}`);
    if (p.mode !== r.mode && r.mode) add(r.name, 'mode', `${p.mode ?? '-'} → ${r.mode} (${r.mode === 'Proxy' ? 'activator in the path' : 'pods serve directly'})`);
    if (p.traffic !== r.traffic) add(r.name, 'traffic', `traffic ${p.traffic}% → ${r.traffic}%`);
  }
  for (const r of prev.revisions) {
    if (!next.revisions.some((n) => n.name === r.name)) add(r.name, 'revision', `revision ${r.name} deleted`);
  }

  const readyBefore = new Set(prev.podStarts.filter((s) => s.total !== undefined).map((s) => s.pod));
  for (const s of next.podStarts) {
    if (s.total !== undefined && !readyBefore.has(s.pod)) add(s.revision, 'cold-start', coldStartText(s));
  }
  return events;
}

function scaleHint(p: RevisionView, r: RevisionView): string {
  const from = p.pods.desired ?? 0;
  const to = r.pods.desired ?? 0;
  if (from === 0 && to > 0) return ' (waking from zero)';
  if (to === 0) return ' (scaling to zero)';
  return '';
}

export function coldStartText(s: PodStart): string {
  const parts = [
    s.scheduledAfter !== undefined ? `scheduled ${formatSeconds(s.scheduledAfter * 1000)}` : undefined,
    s.initializedAfter !== undefined ? `initialized ${formatSeconds(s.initializedAfter * 1000)}` : undefined,
    s.containersReadyAfter !== undefined ? `containers ready ${formatSeconds(s.containersReadyAfter * 1000)}` : undefined,
    s.readyAfter !== undefined ? `ready ${formatSeconds(s.readyAfter * 1000)}` : undefined,
  ].filter(Boolean);
  return `pod ${s.pod} ready ${formatSeconds((s.total ?? 0) * 1000)} after creation${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** The rolling memory of a live watch. */
export class ScaleHistory {
  readonly samples: PodSample[] = [];
  readonly events: ScaleEvent[] = [];
  /** Every finished pod start seen in the window, by pod, also of pods gone since: what a new start's phases are compared with. */
  readonly starts = new Map<string, PodStart>();
  private last: ScaleSnapshot | undefined;

  constructor(
    private readonly keepMs: number,
    private readonly keepEvents = 50,
  ) {}

  add(snapshot: ScaleSnapshot): ScaleEvent[] {
    const at = Date.parse(snapshot.takenAt);
    this.samples.push({ at, ready: snapshot.totals.ready, desired: snapshot.totals.desired });
    while (this.samples.length && this.samples[0]!.at < at - this.keepMs) this.samples.shift();
    const fresh = this.last ? diffSnapshots(this.last, snapshot) : [];
    this.events.push(...fresh);
    if (this.events.length > this.keepEvents) this.events.splice(0, this.events.length - this.keepEvents);
    for (const st of snapshot.podStarts) if (st.total !== undefined) this.starts.set(st.pod, st);
    for (const [pod, st] of this.starts) if (Date.parse(st.readyAt!) < at - this.keepMs) this.starts.delete(pod);
    this.last = snapshot;
    return fresh;
  }
}
