import { flushPromises, mount } from '@vue/test-utils';
import App from '../App.vue';
import { createApiClient } from '../api/client';
import { defaultConfig, waitingFor, waitingKey, type RuntimeConfig } from '../config';
import { createTaskStore, taskStoreKey, type Task } from '../stores/useTaskStore';
import { integerPosition } from '../../../functions/api/task-position';

type Handler = (method: string, path: string, body: any, headers: Headers) => { status: number; body: unknown } | undefined;

/**
 * An in-memory task API behind a fake `fetch`, with the real API's routes, error shape and conditional
 * writes (each task's `version`, +1 per change; `If-Match: "<version>"` or `*`, else 412 with the task).
 * `intercept` lets a test answer matching requests; `hold` makes requests (all, or some) wait until released.
 */
export function fakeApi(initial: string[] = []) {
  let nextId = 1;
  const now = '2026-01-01T00:00:00.000Z';
  const tasks: Task[] = initial.map((task, i) => ({ id: nextId++, task, done: false, createdAt: now, updatedAt: now, position: integerPosition(i), version: 1 }));
  // Like migration 012: a new task goes after every other (a test that moves tasks sets positions below these).
  let nextPosition = initial.length;
  const calls: string[] = [];
  /** What each delete recorded, as migration 013's deleted_tasks. */
  const deleted = new Map<number, Task>();
  /** The Idempotency-Key header of each request, in order (undefined when none was sent). */
  const keys: (string | undefined)[] = [];
  // Like the real API: a repeated key is answered from the record and changes nothing.
  const answered = new Map<string, { status: number; body: string }>();
  let override: Handler | undefined;
  let held: (() => void)[] | undefined;
  let holding: ((method: string, path: string, body: string) => boolean) | undefined;

  function handle(method: string, path: string, body: any, headers: Headers): { status: number; body: unknown } {
    const o = override?.(method, path, body, headers);
    if (o) return o;
    const m0 = /^\/api\/tasks\/(\d+)$/.exec(path);
    if (method === 'GET' && path === '/api/tasks') return { status: 200, body: { success: true, tasks, nextCursor: null } };
    if (method === 'GET' && path === '/api/tasks?order=position') {
      const ordered = [...tasks].sort((a, b) => (a.position! < b.position! ? -1 : a.position! > b.position! ? 1 : a.id - b.id));
      return { status: 200, body: { success: true, tasks: ordered, nextCursor: null } };
    }
    if (method === 'GET' && m0) {
      const t = tasks.find((x) => x.id === Number(m0[1]));
      return t ? { status: 200, body: { success: true, task: t } } : { status: 404, body: { success: false, message: 'Task not found', code: 'not_found' } };
    }
    if (method === 'GET' && path === '/api/info') return { status: 200, body: { version: '1.0.0', revision: 'tasks-api-00007', driver: 'pglite' } };
    if (method === 'POST' && path === '/api/tasks') {
      const task = { id: nextId++, task: body.task, done: false, createdAt: now, updatedAt: now, position: integerPosition(nextPosition++), version: 1 };
      tasks.push(task);
      return { status: 201, body: { success: true, message: 'created', task } };
    }
    if (method === 'PATCH' && path === '/api/tasks') {
      // Toggle all: only the tasks that change get a new version; every named one that exists comes back.
      const named = tasks.filter((t) => body.ids.includes(t.id)).sort((a, b) => a.id - b.id);
      for (const t of named) if (t.done !== body.done) Object.assign(t, { done: body.done, version: t.version! + 1 });
      return { status: 200, body: { success: true, message: 'Tasks updated successfully', tasks: named } };
    }
    if (method === 'POST' && path === '/api/tasks/restore') {
      // As migration 013's task_restore: the recorded task, by id only, version + 1, once.
      const back = (body.tasks as { id: number }[])
        .flatMap(({ id }) => (deleted.has(id) && !tasks.some((x) => x.id === id) ? [deleted.get(id)!] : []))
        .map((t) => ({ ...t, updatedAt: now, version: t.version! + 1 }));
      for (const t of back) deleted.delete(t.id);
      tasks.push(...back);
      return { status: 200, body: { success: true, message: 'Tasks restored successfully', tasks: back.sort((a, b) => a.id - b.id) } };
    }
    const m = /^\/api\/tasks\/(\d+)$/.exec(path);
    const i = m ? tasks.findIndex((t) => t.id === Number(m[1])) : -1;
    if (i < 0) return { status: 404, body: { success: false, message: 'Task not found', code: 'not_found' } };
    const ifMatch = headers.get('if-match');
    if (ifMatch !== null && ifMatch !== '*' && ifMatch !== `"${tasks[i]!.version}"`) {
      return { status: 412, body: { success: false, message: 'The task was changed meanwhile', code: 'precondition_failed', task: tasks[i] } };
    }
    if (method === 'PATCH') {
      Object.assign(tasks[i]!, body, { version: tasks[i]!.version! + 1 });
      return { status: 200, body: { success: true, task: tasks[i] } };
    }
    if (method === 'DELETE') {
      deleted.set(tasks[i]!.id, { ...tasks[i]! });
      tasks.splice(i, 1);
      return { status: 200, body: { success: true, message: 'deleted', id: Number(m![1]) } };
    }
    return { status: 405, body: { success: false, message: 'Method not allowed', code: 'method_not_allowed' } };
  }

  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const method = init?.method ?? 'GET';
    const path = String(input);
    calls.push(`${method} ${path}`);
    const headers = new Headers(init?.headers);
    const key = headers.get('idempotency-key') ?? undefined;
    keys.push(key);
    if (held && (!holding || holding(method, path, String(init?.body ?? '')))) await new Promise<void>((resolve) => held!.push(resolve));
    let answer = key !== undefined ? answered.get(key) : undefined;
    if (!answer) {
      const fresh = handle(method, path, init?.body ? JSON.parse(String(init.body)) : undefined, headers);
      // The record keeps the answer's bytes as they were, as the API's does.
      answer = { status: fresh.status, body: JSON.stringify(fresh.body) };
      if (key !== undefined && answer.status < 500 && answer.status !== 409) answered.set(key, answer);
    }
    return new Response(answer.body, { status: answer.status, headers: { 'Content-Type': 'application/json' } });
  }) as typeof globalThis.fetch;

  return {
    tasks,
    calls,
    keys,
    fetch,
    /** Answer requests through `handler` first (return undefined to fall through). */
    intercept(handler: Handler | undefined) {
      override = handler;
    },
    /** Requests wait until `release` (only those `which` picks, when given); a request waits before it is handled. */
    hold(which?: (method: string, path: string, body: string) => boolean) {
      held = [];
      holding = which;
    },
    release() {
      const waiting = held ?? [];
      held = undefined;
      waiting.forEach((resolve) => resolve());
    },
  };
}

export async function mountApp(api: ReturnType<typeof fakeApi>, config: Partial<RuntimeConfig> = {}, retryForMs = 0) {
  const client = createApiClient({ baseUrl: '/api', fetch: api.fetch, retryForMs });
  const store = createTaskStore(client, { ...defaultConfig, ...config });
  const wrapper = mount(App, {
    props: { appVersion: config.appVersion ?? '1.2.3' },
    global: { provide: { [taskStoreKey as symbol]: store, [waitingKey as symbol]: waitingFor({ ...defaultConfig, ...config }) } },
    attachTo: document.body,
  });
  await Promise.all([store.load(), store.loadInfo()]);
  await flushPromises();
  return { wrapper, store };
}

/** The visible task texts, in order. */
export const texts = (wrapper: ReturnType<typeof mount>) => wrapper.findAll('li .text').map((w) => w.text());
