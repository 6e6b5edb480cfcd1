import { computed, inject, reactive, type InjectionKey } from 'vue';
import { ApiError, newIdempotencyKey, type ApiClient } from '../api/client';
import type { RuntimeConfig } from '../config';
import type { Task, TaskChangedBody, TaskListBody } from '../../../functions/api/schemas';
import { MAX_TASK_LENGTH, taskTextProblem, type TaskTextProblem } from '../../../functions/api/task-text';

export type { Task };

export type Filter = 'all' | 'active' | 'done';

interface Notice {
  text: string;
  retry?: () => void;
}

/** What the page says about each problem the API's text rule finds (checked here before a round trip). */
export const TASK_TEXT_PROBLEMS: Record<TaskTextProblem, string> = {
  empty: 'A task needs some text.',
  too_long: `A task can be at most ${MAX_TASK_LENGTH} characters.`,
  nul: 'A task cannot contain a NUL character.',
  lone_surrogate: 'A task cannot contain a broken character (a lone surrogate).',
};

type TaskReply = TaskChangedBody;
type ListReply = TaskListBody;

/**
 * All task state and the actions on it. Changes show at once and roll back with a notice when the
 * API refuses. A plain reactive object is all this page needs (no store library: it stays in budget).
 */
export function createTaskStore(api: ApiClient, config: RuntimeConfig) {
  const state = reactive({
    tasks: [] as Task[],
    status: 'loading' as 'loading' | 'ready' | 'error',
    loadError: '',
    nextCursor: null as string | null,
    loadingMore: false,
    filter: 'all' as Filter,
    /** The new-task text; kept here so a failed add can give it back. */
    draft: '',
    notice: null as Notice | null,
    features: { edit: config.featureEditTask, delete: config.featureDeleteTask },
    apiRevision: '',
  });

  // Optimistic tasks get negative ids until the API answers with the real one.
  let tempId = 0;
  // The list request in flight. A task added meanwhile waits for it, or the list would overwrite it.
  let loading: Promise<void> | undefined;

  const active = computed(() => state.tasks.filter((t) => !t.done));
  const done = computed(() => state.tasks.filter((t) => t.done));
  const visible = computed(() =>
    state.filter === 'all' ? state.tasks : state.filter === 'active' ? active.value : done.value,
  );

  const indexOf = (id: number) => state.tasks.findIndex((t) => t.id === id);

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

  function load(): Promise<void> {
    return (loading ??= fetchList().finally(() => (loading = undefined)));
  }

  async function fetchList() {
    state.status = 'loading';
    state.loadError = '';
    try {
      const reply = await api.request<ListReply>('GET', '/tasks');
      state.tasks = [...reply.tasks, ...state.tasks.filter((t) => t.id < 0)];
      state.nextCursor = reply.nextCursor == null ? null : String(reply.nextCursor);
      state.status = 'ready';
    } catch (err) {
      state.loadError = err instanceof Error ? err.message : String(err);
      state.status = 'error';
    }
  }

  async function loadMore() {
    if (!state.nextCursor || state.loadingMore) return;
    state.loadingMore = true;
    try {
      const reply = await api.request<ListReply>('GET', `/tasks?cursor=${encodeURIComponent(state.nextCursor)}`);
      const known = new Set(state.tasks.map((t) => t.id));
      state.tasks.push(...reply.tasks.filter((t) => !known.has(t.id)));
      state.nextCursor = reply.nextCursor == null ? null : String(reply.nextCursor);
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
   * Adds the draft (or `text`): shown at once, taken back if the API refuses. Every user action has
   * one Idempotency-Key, kept by its Retry, so a write that did reach the API is never made twice.
   */
  async function add(text = state.draft, key = newIdempotencyKey()) {
    const value = text.trim();
    const problem = validate(value);
    if (problem) {
      state.notice = { text: problem };
      return;
    }
    const now = new Date().toISOString();
    const temp: Task = { id: --tempId, task: value, done: false, createdAt: now, updatedAt: now, version: 1 };
    state.tasks.push(temp);
    state.draft = '';
    state.notice = null;
    try {
      await loading;
      const reply = await api.request<TaskReply>('POST', '/tasks', { task: value }, { idempotencyKey: key });
      const i = indexOf(temp.id);
      if (i >= 0) state.tasks[i] = reply.task;
    } catch (err) {
      const i = indexOf(temp.id);
      if (i >= 0) state.tasks.splice(i, 1);
      // Give the text back unless the person has started typing something else.
      if (state.draft.trim() === '') state.draft = value;
      fail(`Couldn’t add “${value}”`, err, () => void add(value, key));
    }
  }

  async function patch(id: number, change: Partial<Pick<Task, 'task' | 'done'>>, what: string, key = newIdempotencyKey()) {
    const i = indexOf(id);
    if (i < 0) return;
    const before = { ...state.tasks[i]! };
    Object.assign(state.tasks[i]!, change);
    try {
      const reply = await api.request<TaskReply>('PATCH', `/tasks/${id}`, change, { idempotencyKey: key });
      const j = indexOf(id);
      if (j >= 0) state.tasks[j] = reply.task;
    } catch (err) {
      const j = indexOf(id);
      if (j >= 0) state.tasks[j] = before;
      fail(what, err, () => void patch(id, change, what, key), 'edit');
    }
  }

  /** Renames a task. Returns a problem with the text, or null when it was sent. */
  function rename(id: number, text: string): string | null {
    const value = text.trim();
    const problem = validate(value);
    if (problem) return problem;
    const current = state.tasks[indexOf(id)];
    if (current && current.task !== value) void patch(id, { task: value }, `Couldn’t rename “${current.task}”`);
    return null;
  }

  function toggle(id: number) {
    const current = state.tasks[indexOf(id)];
    if (!current) return Promise.resolve();
    const done = !current.done;
    return patch(id, { done }, `Couldn’t mark “${current.task}” as ${done ? 'done' : 'not done'}`);
  }

  async function remove(id: number, key = newIdempotencyKey()) {
    const i = indexOf(id);
    if (i < 0) return;
    const [task] = state.tasks.splice(i, 1);
    try {
      await api.request('DELETE', `/tasks/${id}`, undefined, { idempotencyKey: key });
    } catch (err) {
      // Put it back where it was, as near as the list now allows.
      state.tasks.splice(Math.min(i, state.tasks.length), 0, task!);
      fail(`Couldn’t delete “${task!.task}”`, err, () => void remove(id, key), 'delete');
    }
  }

  function clearDone() {
    return Promise.all(done.value.filter((t) => t.id > 0).map((t) => remove(t.id)));
  }

  return {
    state,
    counts: computed(() => ({ all: state.tasks.length, active: active.value.length, done: done.value.length })),
    visible,
    waking: api.waking,
    load,
    loadMore,
    loadInfo,
    add,
    rename,
    toggle,
    remove,
    clearDone,
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
