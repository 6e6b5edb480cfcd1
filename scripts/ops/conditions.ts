// Helpers for the shapes every Kubernetes and Knative object shares: conditions and timestamps.
// client-node turns timestamps of built-in kinds into Date objects but leaves custom resources
// as JSON strings, so everything here accepts both.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

type Timestamp = string | Date | undefined | null;

/** Milliseconds since the epoch, or undefined for a missing or unparsable time. */
export function toMillis(t: Timestamp): number | undefined {
  if (t === undefined || t === null || t === '') return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

export function toIso(t: Timestamp): string | undefined {
  const ms = toMillis(t);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** The object's conditions, normalised (status strings, ISO times). */
export function conditionsOf(obj: { status?: any } | undefined): Condition[] {
  const raw: unknown = obj?.status?.conditions;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((c) => c && typeof c.type === 'string')
    .map((c) => ({
      type: c.type,
      status: c.status === 'True' || c.status === 'False' ? c.status : 'Unknown',
      ...(c.reason ? { reason: String(c.reason) } : {}),
      ...(c.message ? { message: String(c.message) } : {}),
      ...(toIso(c.lastTransitionTime) ? { lastTransitionTime: toIso(c.lastTransitionTime) } : {}),
    }));
}

export function condition(obj: { status?: any } | undefined, type: string): Condition | undefined {
  return conditionsOf(obj).find((c) => c.type === type);
}

/** A condition's status, treating a missing condition as Unknown (as Knative does). */
export function conditionStatus(obj: { status?: any } | undefined, type: string): ConditionStatus {
  return condition(obj, type)?.status ?? 'Unknown';
}

/** "Reason: message" of a condition, for one-line explanations. */
export function explain(c: Condition | undefined): string {
  if (!c) return 'no status reported yet';
  const parts = [c.reason, c.message].filter(Boolean);
  return parts.length ? parts.join(': ') : `${c.type}=${c.status}`;
}

/** Parse a Go-style duration as Kubernetes objects carry them ("1h", "90s", "1m30s"). */
export function parseDuration(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    consumed += m[0];
  }
  return consumed === text ? total : undefined;
}

/** "4s", "2m05s", "3h10m": short ages for terminal columns. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d`;
}

/** "0.42s", "12.3s": durations measured from pod conditions (one-second resolution at best). */
export function formatSeconds(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(1)}s` : `${Math.round(s)}s`;
}
