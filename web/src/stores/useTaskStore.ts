import { computed, inject, reactive, watch, type InjectionKey } from 'vue';
import { ApiError, newIdempotencyKey, type ApiClient } from '../api/client';
import type { RuntimeConfig } from '../config';
import type { Task as ApiTask, TaskChangedBody, TaskListBody, TasksChangedBody } from '../../../functions/api/schemas';
import { MAX_TASK_LENGTH, taskTextProblem, type TaskTextProblem } from '../../../functions/api/task-text';
import { byPlace, type Place } from './taskOrder';

/**
 * A task as the API sends it. `version` (an integer from 1, one more per change; the task's ETag) is
 * what `If-Match` sends back; it and `position` (its place in the order, taskOrder.ts) are absent on
 * a task not saved yet and from an API that predates them.
 */
export type Task = Omit<ApiTask, 'version' | 'position'> & { version?: number; position?: string };

export type Filter = 'all' | 'active' | 'done';

interface Notice {
  text: string;
  retry?: () => void;
}

type Change = Partial<Pick<Task, 'task' | 'done' | 'position'>>;

/**
 * A change made elsewhere (another tab, another person) that met the person's own changes to the same
 * task: the API answered 412 `precondition_failed` with the current task. `mine` is every change the
 * person asked for that task and not yet answered, merged in order (null when one of them deletes it);
 * `changes` is how many there are.
 */
export interface Conflict {
  id: number;
  theirs: Task;
  mine: Change | null;
  changes: number;
}

/** What the page says about each problem the API's text rule finds (checked here before a round trip). */
export const TASK_TEXT_PROBLEMS: Record<TaskTextProblem, string> = {
  empty: 'A task needs some text.',
  too_long: `A task can be at most ${MAX_TASK_LENGTH} characters.`,
  nul: 'A task cannot contain a NUL character.',
  lone_surrogate: 'A task cannot contain a broken character (a lone surrogate).',
};

// The answers carry `Task` as the page sees it (its `version` optional: older APIs send none).
type TaskReply = Omit<TaskChangedBody, 'task'> & { task: Task };
type ListReply = Omit<TaskListBody, 'tasks'> & { tasks: Task[] };
type TasksReply = Omit<TasksChangedBody, 'tasks'> & { tasks: Task[] };

/** The most ids one toggle-all request names: the API's MAX_BULK_IDS (schemas.ts); more go in several. */
export const MAX_IDS_PER_TOGGLE = 1000;

/**
 * The list the page asks for: in the person's order (`?order=position`, whose cursor is
 * `<position>.<id>`), a page at a time; the API's default stays id order for other clients.
 */
const LIST = '/tasks?order=position';
/** A list cursor (`<position>.<id>`) as the place it stands for, compared as byPlace compares tasks. */
const place = (cursor: string): Place => {
  const dot = cursor.lastIndexOf('.');
  return { position: cursor.slice(0, dot), id: +cursor.slice(dot + 1) };
};
const later = (a: Place, b: Place) => byPlace(a, b) > 0;
/** At most this many tasks missing from one page are asked about; the rest wait for the next load. */
const MAX_VERIFIED = 100;

/**
 * One change the person made: its identity is its Idempotency-Key (kept by Retry), its place in the
 * person's sequence for that task is its place in `writes`.
 */
interface Write {
  key: string;
  kind: 'add' | 'patch' | 'delete' | 'setDone';
  /** The task's id; for an add a negative placeholder until the API answers with the real one; 0 for setDone. */
  id: number;
  /** setDone (toggle all, PATCH /api/tasks): the tasks it changes, all in one request. */
  ids?: number[];
  /** add: `{ task }`; patch: the fields changed; setDone: `{ done }`; delete: `{}`. */
  change: Change;
  /** The notice's first words if it fails, e.g. "Couldn’t rename “Milk”". */
  what: string;
  /** The version the change is based on, sent as If-Match (none when the API sends no versions). */
  ifMatch?: number;
  /** Waits for the previous write to the same task, whose answer gives this one its version. */
  chained: boolean;
  phase: 'queued' | 'sent' | 'conflict';
  createdAt: string;
  settled: Promise<void>;
  settle: () => void;
}

/**
 * All task state and the actions on it, with one rule for every answer (the page shows the server's
 * state with the person's changes still in flight on top):
 * - `known` is the server's state as last learned, each entry stamped with when it was learned;
 *   `writes` are the person's changes not answered yet, in the order made. The list shown is `known`
 *   with `writes` applied, so an answer to an older change never overwrites a newer intent, and when
 *   every answer is in the page equals the server.
 * - Writes to one task go one at a time, each with `If-Match` of the version the person saw (or that
 *   the previous write to it produced). A 412 is a change made elsewhere: shown as a conflict, the
 *   person keeps theirs (sent again on the new version, with a new key) or takes the other. A 404 is a
 *   task deleted elsewhere: removed, said so, and never shown again (ids are never reused; only Undo restores one, see `gone`).
 * - A list answer merges by id: it wins over what was learned before it was asked for, never over an
 *   answer learned after (or a higher version); a deleted id is never put back; it is applied after
 *   the adds in flight have answered, so a new task is never shown twice.
 * A plain reactive object is all this page needs (no store library: it stays in budget).
 */
export function createTaskStore(api: ApiClient, config: RuntimeConfig) {
  const state = reactive({
    /** What the page shows: `known` with the writes in flight applied. */
    tasks: [] as Task[],
    status: 'loading' as 'loading' | 'ready' | 'error',
    loadError: '',
    nextCursor: null as string | null,
    loadingMore: false,
    filter: 'all' as Filter,
    /** The task whose editor is open (0: none): shown under any filter until the editor closes. */
    editing: 0,
    /** The new-task text; kept here so a failed add can give it back. */
    draft: '',
    notice: null as Notice | null,
    /** Changes that met a change made elsewhere, oldest first; the page asks about the first. */
    conflicts: [] as Conflict[],
    features: { edit: config.featureEditTask, delete: config.featureDeleteTask },
    apiRevision: '',
  });

  // Optimistic tasks get negative ids until the API answers with the real one.
  let tempId = 0;
  // Counts what the store has learned, so a list answer knows which entries are newer than its question.
  let clock = 0;
  const known = new Map<number, { task: Task; stamp: number }>();
  /**
   * What the last list read of each page (by the id it starts after) held: an id in its range below
   * its highest id that it lacks was deleted before it was read (ids are handed out in increasing
   * order), so an answer naming it learned later (a replayed add, a late answer) does not bring it back.
   */
  const listed = new Map<number, { to: number; highest: number; ids: Set<number> }>();
  const listedGone = (id: number) => [...listed].some(([from, l]) => id > from && id <= l.to && id < l.highest && !l.ids.has(id));
  /**
   * Ids the server no longer has, each with when the store learned it (`clock`) and the version it
   * had then. Ids are never reused; only Undo (POST /api/tasks/restore) brings one back, at a higher
   * version: its own answer (`restore`), or a list asked for after the store learned the id was gone
   * that holds it at a higher version (a stale list, read before the delete, holds an older one).
   */
  const gone = new Map<number, { at: number; version: number | undefined }>();
  const restored = (task: Task, since: number) => {
    const went = gone.get(task.id)!;
    return since >= went.at && went.version !== undefined && task.version !== undefined && task.version > went.version;
  };
  /** When each restored id came back: a list asked for before then may not hold it yet. */
  const restoredAt = new Map<number, number>();
  function revive(id: number) {
    gone.delete(id);
    restoredAt.set(id, ++clock);
    // Back on the server: a list read before the restore that lacked it says nothing about it now.
    for (const l of listed.values()) l.ids.add(id);
  }
  const writes: Write[] = [];
  const listeners = new Set<() => void>();
  let loading: Promise<void> | undefined;
  let loadAgain = false;
  // True while the new-task field is empty because an add took its text (a double-click's second submit).
  let draftTaken = false;
  watch(
    () => state.draft,
    () => (draftTaken = false),
    { flush: 'sync' },
  );

  const active = computed(() => state.tasks.filter((t) => !t.done));
  const done = computed(() => state.tasks.filter((t) => t.done));
  // A change made elsewhere (done in another tab) never takes an open editor out of the list shown.
  const visible = computed(() =>
    state.filter === 'all' ? state.tasks : state.tasks.filter((t) => t.done === (state.filter === 'done') || t.id === state.editing),
  );

  /** Whether `w` changes task `id`: a toggle all changes each of its ids, one in its place in the sequence. */
  const touches = (w: Write, id: number) => (w.ids ? w.ids.includes(id) : w.id === id);

  /** Rebuilds the list shown: the server's state as known, then each write in flight, in order; in the person's order (taskOrder.ts). */
  function render() {
    const rows = [...known.values()].map((e) => ({ ...e.task })).sort((a, b) => a.id - b.id);
    const byId = new Map(rows.map((t) => [t.id, t]));
    const deleting = new Set<number>();
    for (const w of writes) {
      if (w.kind === 'add') {
        rows.push({ id: w.id, task: w.change.task!, done: false, createdAt: w.createdAt, updatedAt: w.createdAt });
      } else if (w.kind === 'patch') {
        const t = byId.get(w.id);
        if (t) Object.assign(t, w.change);
      } else if (w.kind === 'setDone') {
        for (const id of w.ids!) {
          const t = byId.get(id);
          if (t) Object.assign(t, w.change);
        }
      } else deleting.add(w.id);
    }
    state.tasks = (deleting.size ? rows.filter((t) => !deleting.has(t.id)) : rows).sort(byPlace);
    for (const c of state.conflicts) {
      const theirs = known.get(c.id)?.task;
      if (theirs) c.theirs = { ...theirs };
      Object.assign(c, mineFor(c.id));
    }
  }

  /** The person's changes to task `id` not answered yet, in order, and what they ask for merged (null: delete it). */
  function pendingFor(id: number): { pending: Write[]; change: Change | null } {
    const pending = writes.filter((w) => touches(w, id));
    let change: Change | null = {};
    for (const w of pending) change = w.kind === 'delete' || change === null ? null : { ...change, ...w.change };
    return { pending, change };
  }

  const mineFor = (id: number) => {
    const { pending, change } = pendingFor(id);
    return { mine: change, changes: pending.length };
  };

  const older = (a: Task, b: Task) => a.version !== undefined && b.version !== undefined && a.version < b.version;

  /**
   * Takes a task from an answer about one task (never an older version than the one known).
   * Returns false when the task is known to be gone.
   */
  function learn(task: Task): boolean {
    if (!gone.has(task.id) && listedGone(task.id)) gone.set(task.id, { at: ++clock, version: known.get(task.id)?.task.version ?? task.version });
    if (gone.has(task.id)) return false;
    const e = known.get(task.id);
    if (e && older(task, e.task)) return true;
    known.set(task.id, { task, stamp: ++clock });
    return true;
  }

  /**
   * Says the task was deleted elsewhere; what the person `typed` for it (an editor's text, a rename the
   * delete refused) goes to the new-task field to add again, unless that field holds other text.
   */
  function deletedElsewhere(text: string, typed?: string) {
    state.notice = { text: `“${text}” was deleted elsewhere (in another tab or by someone else).` };
    if (typed !== undefined && !state.draft.trim()) state.draft = typed;
  }

  /** The task is gone from the server: drop it and every change to it; `say` tells the person. */
  function forget(id: number, say: boolean) {
    const text = known.get(id)?.task.task ?? state.tasks.find((t) => t.id === id)?.task;
    const wasGone = gone.has(id);
    if (!wasGone) gone.set(id, { at: ++clock, version: known.get(id)?.task.version });
    known.delete(id);
    let dropped = false;
    // The newest rename dropped: the person's typing, kept (deletedElsewhere).
    let typed: string | undefined;
    const released = new Set<number>();
    for (let i = writes.length - 1; i >= 0; i--) {
      const w = writes[i]!;
      if (!touches(w, id) || w.kind === 'add') continue;
      typed ??= w.change.task;
      letGo(w, id, w.settle).forEach((other) => released.add(other));
      dropped = true;
    }
    state.conflicts = state.conflicts.filter((c) => c.id !== id);
    released.forEach(pump);
    if ((say || dropped) && !wasGone && text !== undefined) deletedElsewhere(text, typed);
  }

  /**
   * Merges a page of the list, asked for when `clock` was `since`: the answer wins over what was
   * learned before the question. `whole`: the page is the whole list, so an id missing from it is
   * gone. A page of a longer list is in position order, where a task can move from one page to
   * another: one missing from its range (after `after`, up to its last task or, for the `end`, on)
   * is asked about (`verify`) rather than taken for deleted.
   */
  function merge(tasks: readonly Task[], since: number, whole: boolean, after?: Place, end = false) {
    const seen = new Set<number>();
    let unsure = false;
    for (const task of tasks) {
      seen.add(task.id);
      if (gone.has(task.id) && !restored(task, since)) continue;
      if (gone.has(task.id)) revive(task.id);
      const e = known.get(task.id);
      const versioned = task.version !== undefined && e?.task.version !== undefined;
      if (!e || (versioned ? task.version! >= e.task.version! : e.stamp <= since)) known.set(task.id, { task, stamp: since });
      // Without versions an answer learned after the question may be older or newer than the list.
      else if (!versioned && (e.task.task !== task.task || e.task.done !== task.done)) unsure = true;
    }
    if (whole) {
      // Ids are handed out in increasing order: a list that holds a later id was read after this one
      // was made, so an id below it that is missing was deleted.
      const highest = tasks.reduce((max, t) => Math.max(max, t.id), 0);
      listed.set(0, { to: Infinity, highest, ids: seen });
      for (const [id, e] of known) {
        if (seen.has(id)) continue;
        if (e.stamp <= since || (id < highest && !((restoredAt.get(id) ?? 0) > since))) forget(id, false);
        // Learned after the question: the task may have been made after the list was read.
        else unsure = true;
      }
    } else {
      const last = tasks[tasks.length - 1];
      const missing = [...known]
        .filter(([id, e]) => !seen.has(id) && e.stamp <= since && (end || (last && !later(e.task, last))) && !(after && !later(e.task, after)))
        .map(([id]) => id);
      void verify(missing.slice(0, MAX_VERIFIED));
    }
    // A list asked for now is later than every answer learned so far, so one more settles it.
    if (unsure && loading) loadAgain = true;
    else if (unsure) void load();
  }

  /** Asks for each task a page left out of its range: learned as it is now, or gone (404). */
  async function verify(ids: readonly number[]) {
    await Promise.all(
      ids.map(async (id) => {
        const since = clock;
        try {
          const reply = await api.request<{ task: Task }>('GET', `/tasks/${id}`);
          if ((known.get(id)?.stamp ?? Infinity) <= since) learn(reply.task);
        } catch (err) {
          if (err instanceof ApiError && err.status === 404 && (known.get(id)?.stamp ?? Infinity) <= since) forget(id, false);
        }
      }),
    );
    render();
  }

  function fail(what: string, err: unknown, retry?: () => void, feature?: 'edit' | 'delete') {
    const reason = err instanceof Error ? err.message : String(err);
    if (feature && err instanceof ApiError && err.code === 'feature_disabled') {
      // The server's flags win over the runtime config: hide what it refuses, offer no retry.
      state.features[feature] = false;
      state.notice = { text: `${what}: ${reason}` };
      return;
    }
    state.notice = { text: `${what}: ${reason}`, retry };
  }

  function validate(text: string): string | null {
    const problem = taskTextProblem(text);
    return problem && TASK_TEXT_PROBLEMS[problem];
  }

  /**
   * Loads (or refreshes) the first page. A call while one runs asks again once it ends, so a change
   * announced meanwhile is not missed. A refresh that fails keeps what is shown.
   */
  function load(): Promise<void> {
    if (loading) {
      loadAgain = true;
      return loading;
    }
    return (loading = (async () => {
      do {
        loadAgain = false;
        await fetchList();
      } while (loadAgain);
    })().finally(() => (loading = undefined)));
  }

  /** Resolves when the adds in flight now have answered: a list may already hold their tasks. */
  const addsAnswered = () => Promise.all(writes.filter((w) => w.kind === 'add').map((w) => w.settled));

  async function fetchList() {
    const refreshing = state.status === 'ready';
    if (!refreshing) {
      state.status = 'loading';
      state.loadError = '';
    }
    const since = clock;
    try {
      const reply = await api.request<ListReply>('GET', LIST);
      await addsAnswered();
      merge(reply.tasks, since, reply.nextCursor == null);
      const next = reply.nextCursor == null ? null : String(reply.nextCursor);
      // A refresh keeps a cursor further on that Load more already reached.
      if (!(refreshing && next !== null && state.nextCursor !== null && later(place(state.nextCursor), place(next)))) state.nextCursor = next;
      state.status = 'ready';
      render();
    } catch (err) {
      if (refreshing) return;
      state.loadError = err instanceof Error ? err.message : String(err);
      state.status = 'error';
    }
  }

  async function loadMore() {
    const cursor = state.nextCursor;
    if (!cursor || state.loadingMore) return;
    state.loadingMore = true;
    const since = clock;
    try {
      const reply = await api.request<ListReply>('GET', `${LIST}&cursor=${encodeURIComponent(cursor)}`);
      await addsAnswered();
      merge(reply.tasks, since, false, place(cursor), reply.nextCursor == null);
      state.nextCursor = reply.nextCursor == null ? null : String(reply.nextCursor);
      render();
    } catch (err) {
      fail('Couldn’t load more tasks', err, loadMore);
    } finally {
      state.loadingMore = false;
    }
  }

  async function loadInfo() {
    try {
      const info = await api.request<{ revision?: string | null; version?: string }>('GET', '/info');
      state.apiRevision = info.revision || info.version || 'unknown';
    } catch {
      state.apiRevision = 'unavailable';
    }
  }

  /**
   * `seen`: the version the person saw when they made the change (an editor whose task's text changed
   * under it keeps the one it opened on; Retry the one the failed change was based on), sent as
   * If-Match even when the store has learned a newer one since, so a change made elsewhere meanwhile
   * is asked about (412), never overwritten. Without it, the version known now (what the row shows).
   */
  function write(kind: Write['kind'], id: number, change: Change, what: string, key: string, ids?: number[], seen?: number): Write {
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    // A toggle all sends no If-Match: it waits in pump() for the writes before it, not on a version.
    const before = !ids && writes.some((w) => touches(w, id));
    const w: Write = {
      key,
      kind,
      id,
      ids,
      change,
      what,
      chained: before,
      ifMatch: before ? undefined : seen ?? known.get(id)?.task.version,
      phase: 'queued',
      createdAt: new Date().toISOString(),
      settled,
      settle,
    };
    writes.push(w);
    render();
    for (const i of ids ?? [id]) pump(i);
    return w;
  }

  /**
   * Takes task `id` out of write `x`: a toggle all goes on for its other tasks (returned: they may
   * now be first in line); any other write leaves the sequence, and `settle` ends it.
   */
  function letGo(x: Write, id: number, settle: () => void): number[] {
    if (x.ids) {
      x.ids = x.ids.filter((i) => i !== id);
      if (x.ids.length) return x.ids;
    }
    writes.splice(writes.indexOf(x), 1);
    settle();
    return [];
  }

  /** Sends the first write to this task unless it waits (for the one before it, or for a decision). */
  function pump(id: number) {
    const head = writes.find((w) => touches(w, id));
    if (!head || head.phase !== 'queued' || head.chained) return;
    // A toggle all goes once it is first in line for every task it changes.
    if (head.ids && !head.ids.every((i) => writes.find((w) => touches(w, i)) === head)) return;
    void send(head);
  }

  /** Takes an answered write out of the sequence; the next write to the task builds on `version`. */
  function finish(w: Write, version: number | undefined) {
    const i = writes.indexOf(w);
    if (i >= 0) writes.splice(i, 1);
    // After a toggle all, each task's next write builds on the version now known for it.
    for (const id of w.ids ?? [w.id]) {
      const next = writes.find((x) => touches(x, id));
      if (next?.chained) {
        next.chained = false;
        next.ifMatch = w.ids ? known.get(id)?.task.version : version;
      }
    }
    w.settle();
  }

  async function send(w: Write) {
    w.phase = 'sent';
    const options = { idempotencyKey: w.key, ifMatch: w.ifMatch };
    try {
      if (w.kind === 'add') {
        const reply = await api.request<TaskReply>('POST', '/tasks', { task: w.change.task }, options);
        // Made, then deleted elsewhere before this answer came (a Retry answered from the API's record).
        if (!learn(reply.task)) deletedElsewhere(reply.task.task);
        finish(w, undefined);
      } else if (w.kind === 'patch') {
        const reply = await api.request<TaskReply>('PATCH', `/tasks/${w.id}`, w.change, options);
        learn(reply.task);
        finish(w, reply.task.version);
      } else if (w.kind === 'setDone') {
        const reply = await api.request<TasksReply>('PATCH', '/tasks', { ids: w.ids, done: w.change.done }, { idempotencyKey: w.key });
        reply.tasks.forEach(learn);
        finish(w, undefined);
        // The answer holds every named task that exists: one left out was deleted elsewhere.
        const answered = new Set(reply.tasks.map((t) => t.id));
        for (const id of w.ids!) if (!answered.has(id)) forget(id, true);
      } else {
        await api.request('DELETE', `/tasks/${w.id}`, undefined, options);
        finish(w, undefined);
        forget(w.id, false);
      }
      listeners.forEach((listener) => listener());
    } catch (err) {
      refused(w, err);
    }
    render();
    for (const id of w.ids ?? [w.id]) pump(id);
  }

  function refused(w: Write, err: unknown) {
    if (w.kind === 'setDone') {
      finish(w, undefined);
      return fail(w.what, err, () => retrySetDone(w), 'edit');
    }
    if (w.kind !== 'add' && err instanceof ApiError && err.status === 404) return forget(w.id, true);
    if (w.kind !== 'add' && err instanceof ApiError && err.status === 412) {
      const theirs = (err.body as { task?: Task } | null)?.task;
      if (theirs && theirs.id === w.id) {
        learn(theirs);
        const { change } = pendingFor(w.id);
        const same = change !== null && Object.entries(change).every(([k, v]) => theirs[k as keyof Change] === v);
        // Already as the person's changes want it (e.g. its own first try, whose answer was lost): nothing to ask.
        if (same) return finish(w, theirs.version);
        // A move meets no other change (its place is between its neighbours): sent again on the new version.
        if (w.kind === 'patch' && Object.keys(w.change).every((k) => k === 'position')) {
          w.key = newIdempotencyKey();
          w.ifMatch = theirs.version;
          w.phase = 'queued';
          return;
        }
        w.phase = 'conflict';
        state.conflicts.push({ id: w.id, theirs: { ...theirs }, ...mineFor(w.id) });
        return;
      }
    }
    finish(w, w.ifMatch);
    if (w.kind === 'add') {
      const value = w.change.task!;
      // Give the text back unless the person has started typing something else.
      if (state.draft.trim() === '') state.draft = value;
      fail(w.what, err, () => void add(value, w.key));
    } else {
      fail(w.what, err, () => retry(w), w.kind === 'patch' ? 'edit' : 'delete');
    }
  }

  /**
   * Retry of a failed change: the same request (key and If-Match) while nothing newer is known, so a
   * first try that did land is answered from the API's record; the same key with another If-Match
   * would be refused (422). Once the task has moved on, a new key, still on the version the person
   * saw: a change made elsewhere meanwhile is asked about (412), not overwritten.
   */
  function retry(failed: Write) {
    if (!state.tasks.some((t) => t.id === failed.id)) return;
    const same = !writes.some((w) => touches(w, failed.id)) && known.get(failed.id)?.task.version === failed.ifMatch;
    write(failed.kind, failed.id, failed.change, failed.what, same ? failed.key : newIdempotencyKey(), undefined, failed.ifMatch);
  }

  /**
   * Retry of a failed toggle all: the same key while it names the same tasks (a first try that did
   * land is answered from the API's record, whose versions the store weighs as any answer); the
   * tasks deleted since are left out, with a new key.
   */
  function retrySetDone(failed: Write) {
    const ids = failed.ids!.filter((id) => state.tasks.some((t) => t.id === id));
    if (!ids.length) return;
    write('setDone', 0, failed.change, failed.what, ids.length === failed.ids!.length ? failed.key : newIdempotencyKey(), ids);
  }

  /**
   * The first conflict: the write in conflict and every change to that task behind it (what the
   * question showed as "mine") become one decision. Keep mine sends them merged as one write on the
   * version now known; Take theirs drops them all. A toggle all behind it lets go of this task only.
   */
  function decide(keepMine: boolean) {
    const c = state.conflicts.shift();
    if (!c) return;
    const w = writes.find((x) => x.id === c.id && x.phase === 'conflict');
    if (!w) return;
    const { pending, change } = pendingFor(c.id);
    const others = new Set<number>();
    for (const x of pending) {
      if (x === w) continue;
      if (change === null && x.kind === 'delete') w.what = x.what;
      // Settled with the write that carries it now (Keep mine), or at once (Take theirs).
      const settle = keepMine ? () => void w.settled.then(x.settle) : x.settle;
      letGo(x, c.id, settle).forEach((id) => others.add(id));
    }
    if (keepMine) {
      w.kind = change === null ? 'delete' : 'patch';
      w.change = change ?? {};
      // A new decision on a new version: a new key, or the API would answer the 412 from its record.
      w.key = newIdempotencyKey();
      w.ifMatch = known.get(c.id)?.task.version;
      w.phase = 'queued';
      pump(c.id);
    } else finish(w, undefined);
    render();
    others.forEach(pump);
  }

  /**
   * Adds the draft (or `text`): shown at once, taken back if the API refuses. Every user action has
   * one Idempotency-Key, kept by its Retry, so a write that did reach the API is never made twice.
   * The draft's second submit of a double-click finds the field emptied by the first: it does nothing.
   */
  function add(text?: string, key = newIdempotencyKey()): Promise<void> {
    if (text === undefined && draftTaken && state.draft.trim() === '') return Promise.resolve();
    const value = (text ?? state.draft).trim();
    const problem = validate(value);
    if (problem) {
      state.notice = { text: problem };
      return Promise.resolve();
    }
    state.draft = '';
    draftTaken = true;
    state.notice = null;
    return write('add', --tempId, { task: value }, `Couldn’t add “${value}”`, key).settled;
  }

  /** A change to a task shown (its callers have found it in `state.tasks`). */
  function patch(id: number, change: Change, what: string, seen?: number): Promise<void> {
    if (id < 0) return Promise.resolve();
    return write('patch', id, change, what, newIdempotencyKey(), undefined, seen).settled;
  }

  /**
   * Renames a task; from an editor, `opened` is the task as it opened on. Nothing is sent when the text
   * is the one it opened with. When the text shown now is another (a reload under the open editor
   * brought a rename made elsewhere), If-Match is the version it opened on, so that change is asked
   * about (412), never overwritten; a change to done or place only (the person's own tick included)
   * meets no rename, so the version known now is sent. Returns a problem with the text, or null.
   */
  function rename(id: number, text: string, opened?: Task): string | null {
    const value = text.trim();
    const problem = validate(value);
    if (problem) return problem;
    const current = state.tasks.find((t) => t.id === id);
    const was = opened ?? current;
    if (current && value !== was!.task) void patch(id, { task: value }, `Couldn’t rename “${current.task}”`, current.task === was!.task ? undefined : was!.version);
    return null;
  }

  function toggle(id: number) {
    const current = state.tasks.find((t) => t.id === id);
    if (!current) return Promise.resolve();
    const done = !current.done;
    return patch(id, { done }, `Couldn’t mark “${current.task}” as ${done ? 'done' : 'not done'}`);
  }

  function remove(id: number, key = newIdempotencyKey()): Promise<void> {
    const current = state.tasks.find((t) => t.id === id);
    if (id < 0 || !current) return Promise.resolve();
    return write('delete', id, {}, `Couldn’t delete “${current.task}”`, key).settled;
  }

  /**
   * Toggle all: every task shown becomes done, or, when every one shown is done already, not done;
   * one request (PATCH /api/tasks) per MAX_IDS_PER_TOGGLE tasks, each with its own Idempotency-Key,
   * in line with the other writes to those tasks. Tasks not saved yet (an add in flight) are left as they are.
   */
  function toggleAll(): Promise<void> {
    const shown = visible.value.filter((t) => t.id > 0);
    const done = !shown.every((t) => t.done);
    const ids = shown.filter((t) => t.done !== done).map((t) => t.id);
    const sent: Promise<void>[] = [];
    for (let i = 0; i < ids.length; i += MAX_IDS_PER_TOGGLE) {
      const part = ids.slice(i, i + MAX_IDS_PER_TOGGLE);
      const what = `Couldn’t mark ${part.length === 1 ? '1 task' : `${part.length} tasks`} as ${done ? 'done' : 'not done'}`;
      sent.push(write('setDone', 0, { done }, what, newIdempotencyKey(), part).settled);
    }
    return Promise.all(sent).then(() => undefined);
  }

  /** Moves a task to `position` (a key between its new neighbours', taskOrder.ts): one PATCH of that task. */
  function move(id: number, position: string): Promise<void> {
    const current = state.tasks.find((t) => t.id === id);
    if (!current) return Promise.resolve();
    return patch(id, { position }, `Couldn’t move “${current.task}”`);
  }

  /**
   * Undo of a delete (POST /api/tasks/restore, undo.ts): the tasks with these `ids` (at most
   * undo.ts's IDS_PER_RESTORE), under one Idempotency-Key, so a repeat restores once. The API puts back
   * what the database recorded at the delete (a change made elsewhere before it included), one
   * version past it; that answer is what the store learns, never the page's own copy. Answers the
   * tasks put back (an id the API no longer had a record of is left out); throws an ApiError when refused.
   */
  async function restore(ids: readonly number[], key: string): Promise<Task[]> {
    const reply = await api.request<TasksReply>('POST', '/tasks/restore', { tasks: ids.map((id) => ({ id })) }, { idempotencyKey: key });
    for (const task of reply.tasks) {
      revive(task.id);
      learn(task);
    }
    // Not restored by this request: maybe put back elsewhere (another tab, another client), so the
    // page asks and shows it as the database holds it; a 404 means it stays deleted.
    const back = new Set(reply.tasks.map((t) => t.id));
    await Promise.all(
      ids
        .filter((id) => !back.has(id))
        .slice(0, MAX_VERIFIED)
        .map(async (id) => {
          try {
            const found = await api.request<{ task: Task }>('GET', `/tasks/${id}`);
            revive(id);
            learn(found.task);
          } catch {
            // Gone (404), or unreadable now: the next load tells.
          }
        }),
    );
    render();
    listeners.forEach((listener) => listener());
    return reply.tasks;
  }

  function clearDone() {
    return Promise.all(done.value.filter((t) => t.id > 0).map((t) => remove(t.id)));
  }

  return {
    state,
    counts: computed(() => ({ all: state.tasks.length, active: active.value.length, done: done.value.length })),
    visible,
    waking: api.waking,
    outage: api.outage,
    unreachable: api.unreachable,
    load,
    loadMore,
    loadInfo,
    add,
    rename,
    toggle,
    toggleAll,
    remove,
    clearDone,
    move,
    restore,
    /** The first conflict: send the person's change again on the current version. */
    keepMine: () => decide(true),
    /** The first conflict: keep the other change and drop the person's. */
    takeTheirs: () => decide(false),
    /** Calls `listener` after each change the API confirmed (to tell other tabs). Returns the unsubscribe. */
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    /** A reload took an open editor's task away: said, and `typed` kept, as for a rename the delete refused (deletedElsewhere). */
    lost: deletedElsewhere,
    dismissNotice: () => (state.notice = null),
    retryNotice() {
      const retry = state.notice?.retry;
      state.notice = null;
      retry?.();
    },
    setFilter: (filter: Filter) => (state.filter = filter),
  };
}

export type TaskStore = ReturnType<typeof createTaskStore>;

export const taskStoreKey: InjectionKey<TaskStore> = Symbol('taskStore');

export function useTaskStore(): TaskStore {
  const store = inject(taskStoreKey);
  if (!store) throw new Error('useTaskStore() needs a store provided under taskStoreKey (see main.ts)');
  return store;
}
