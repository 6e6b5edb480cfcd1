import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { flushPromises } from '@vue/test-utils';
import { createApiClient } from '../api/client';
import { defaultConfig } from '../config';
import { createTaskStore, type Task, type TaskStore } from '../stores/useTaskStore';
import { byPlace, moveNextTo } from '../stores/taskOrder';
import { positionBetween } from '../../../functions/api/task-position';

/**
 * Model-based test of the store (fast-check `commands`): a person's actions, another tab's changes,
 * and a network that delivers, refuses, loses or reorders every request and answer. The server is an
 * in-memory API with the real contract (versions, If-Match, 412 with the task, 404, Idempotency-Key
 * records). Invariants: no id shown twice; a task the page was told is gone never comes back; once
 * every answer is in, the page equals the server.
 */

type Answer = { status: number; body: string };
type Fate = 'ok' | 'unavailable' | 'lost-before' | 'lost-after';

interface Request {
  method: string;
  path: string;
  body: any;
  headers: Headers;
  /** How many answers the page had received when it sent this. */
  sentAt: number;
  resolve: (res: Response) => void;
  reject: (err: unknown) => void;
}

interface Delivery {
  request: Request;
  answer: Answer | 'lost';
  /** For a list answer: the ids made before it was read and not in it. */
  goneIds?: number[];
}

const TEXTS = ['Milk', 'Bread', 'Call Sam', 'Pay rent', 'Walk the dog'];
const now = '2026-01-01T00:00:00.000Z';

class Server {
  tasks = new Map<number, Required<Task>>();
  nextId = 1;
  records = new Map<string, { fingerprint: string; answer: Answer }>();
  inbox: Request[] = [];
  outbox: Delivery[] = [];
  /** Answers delivered so far, and when the page first received an answer naming each id. */
  delivered = 0;
  learned = new Map<number, number>();

  fetch = ((input: RequestInfo | URL, init?: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      this.inbox.push({
        method: init?.method ?? 'GET',
        path: String(input),
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
        headers: new Headers(init?.headers),
        sentAt: this.delivered,
        resolve,
        reject,
      });
    })) as typeof fetch;

  create(text: string) {
    // Last, as migration 012's trigger places a new task: after the largest position's integer part.
    const last = [...this.tasks.values()].map((t) => t.position).sort().pop();
    const position = positionBetween(last === undefined ? null : last.slice(0, last.charCodeAt(0) >= 97 ? last.charCodeAt(0) - 95 : 0) || null, null);
    const task = { id: this.nextId++, task: text, done: false, createdAt: now, updatedAt: now, position, version: 1 };
    this.tasks.set(task.id, task);
    return task;
  }

  /** What the API does with one request (records keyed answers as it answered them). */
  handle(r: Request): Answer {
    const key = r.headers.get('idempotency-key');
    const json = (status: number, body: unknown): Answer => ({ status, body: JSON.stringify(body) });
    // The request a key stands for includes If-Match: the same key on another request is 422.
    const fingerprint = JSON.stringify([r.method, r.path, r.body, r.headers.get('if-match')]);
    const recorded = key === null ? undefined : this.records.get(key);
    if (recorded && recorded.fingerprint !== fingerprint) {
      return json(422, { success: false, message: 'This Idempotency-Key was already used for a different request', code: 'idempotency_key_reused' });
    }
    if (recorded) return recorded.answer;
    let answer: Answer;
    const m = /^\/api\/tasks\/(\d+)$/.exec(r.path);
    if (r.method === 'GET' && r.path === '/api/tasks') {
      const tasks = [...this.tasks.values()].sort((a, b) => a.id - b.id);
      answer = json(200, { success: true, tasks, nextCursor: null });
    } else if (r.method === 'POST' && r.path === '/api/tasks') {
      answer = json(201, { success: true, message: 'Task added successfully', task: this.create(r.body.task) });
    } else if (m) {
      const task = this.tasks.get(Number(m[1]));
      const ifMatch = r.headers.get('if-match');
      if (!task) answer = json(404, { success: false, message: 'Task not found', code: 'not_found' });
      else if (ifMatch !== null && ifMatch !== `"${task.version}"`) {
        answer = json(412, { success: false, message: 'The task was changed meanwhile', code: 'precondition_failed', task });
      } else if (r.method === 'PATCH') {
        Object.assign(task, r.body, { version: task.version + 1 });
        answer = json(200, { success: true, message: 'Task updated successfully', task });
      } else {
        this.tasks.delete(task.id);
        answer = json(200, { success: true, message: 'Task deleted successfully', id: task.id });
      }
    } else answer = json(405, { success: false, message: 'Method not allowed', code: 'method_not_allowed' });
    if (key !== null) this.records.set(key, { fingerprint, answer });
    return answer;
  }

  /** Takes one request in; true when the page cannot learn the outcome from the answer. */
  process(i: number, fate: Fate): boolean {
    const [request] = this.inbox.splice(i % this.inbox.length, 1);
    const missed = request!.method === 'GET' ? fate !== 'ok' : fate === 'lost-after';
    if (fate === 'lost-before') return void this.outbox.push({ request: request!, answer: 'lost' }), missed;
    if (fate === 'unavailable') {
      const body = JSON.stringify({ success: false, message: 'The database is not reachable right now', code: 'database_unavailable' });
      return void this.outbox.push({ request: request!, answer: { status: 503, body } }), missed;
    }
    const answer = this.handle(request!);
    const goneIds =
      request!.method === 'GET' ? Array.from({ length: this.nextId - 1 }, (_, k) => k + 1).filter((id) => !this.tasks.has(id)) : undefined;
    this.outbox.push({ request: request!, answer: fate === 'lost-after' ? 'lost' : answer, goneIds });
    return missed;
  }

  deliver(i: number): Delivery {
    const [d] = this.outbox.splice(i % this.outbox.length, 1);
    this.delivered++;
    if (d!.answer === 'lost') d!.request.reject(new TypeError('Failed to fetch'));
    else {
      const { status, body } = d!.answer;
      const parsed = JSON.parse(body);
      const named: number[] = (parsed.tasks ?? (parsed.task ? [parsed.task] : [])).map((t: Task) => t.id);
      if (d!.goneIds) {
        // What the list tells the page: an id it had heard of before asking, or one below an id the
        // list holds (ids only grow), that is missing, is gone. Others it cannot tell from a task
        // made after the list was read.
        const highest = Math.max(0, ...named);
        d!.goneIds = d!.goneIds.filter((id) => (this.learned.get(id) ?? Infinity) <= d!.request.sentAt || id < highest);
      }
      if (status < 300) for (const id of named) if (!this.learned.has(id)) this.learned.set(id, this.delivered);
      d!.request.resolve({ ok: status < 300, status, json: async () => parsed } as Response);
    }
    return d!;
  }
}

/** Everything one run shares: the server, the store, and what the page has been told. */
class World {
  server = new Server();
  store: TaskStore = createTaskStore(createApiClient({ baseUrl: '/api', fetch: this.server.fetch, retryForMs: 0 }), defaultConfig);
  /** Ids the page was told are gone and has stopped showing: they must never be shown again. */
  buried = new Set<number>();
  /** List answers delivered but perhaps not applied yet (a list waits for the adds in flight). */
  lists: number[][] = [];
  /**
   * A write was made but its answer lost, or a list read failed: the page cannot know what changed
   * until it reads the list again (as it does on the next focus or visibility change).
   */
  missed = false;

  shown = () => this.store.state.tasks;

  async flush() {
    for (let i = 0; i < 3; i++) await flushPromises();
  }

  check() {
    const ids = this.shown().map((t) => t.id);
    expect(new Set(ids).size, `an id shown twice: ${ids}`).toBe(ids.length);
    // A list is applied once no add is in flight; what it showed gone is gone from then on.
    if (!ids.some((id) => id < 0)) {
      for (const gone of this.lists.splice(0)) for (const id of gone) if (!ids.includes(id)) this.buried.add(id);
    }
    const back = ids.filter((id) => this.buried.has(id));
    expect(back, 'a task the page was told is gone is shown again').toEqual([]);
  }

  note(d: Delivery) {
    if (d.answer === 'lost') return;
    const m = /^\/api\/tasks\/(\d+)$/.exec(d.request.path);
    // Answered gone: buried at once (checked once the page has taken the answer in).
    if (m && (d.answer.status === 404 || (d.request.method === 'DELETE' && d.answer.status === 200))) this.buried.add(Number(m[1]));
    if (d.goneIds && d.answer.status === 200) this.lists.push(d.goneIds);
  }

  /** Lets every request through and every answer back, decides every conflict, until nothing moves. */
  async settle(keepMine: boolean[]) {
    for (let round = 0; round < 500; round++) {
      await this.flush();
      const { inbox, outbox } = this.server;
      if (inbox.length) this.server.process(round % 2 ? inbox.length - 1 : 0, 'ok');
      else if (outbox.length) this.note(this.server.deliver(round % 2 ? outbox.length - 1 : 0));
      else if (this.store.state.status === 'error') void this.store.load(); // the person presses Retry
      else if (this.store.state.conflicts.length) {
        if (keepMine[round % keepMine.length]) this.store.keepMine();
        else this.store.takeTheirs();
      } else return;
      await this.flush();
      this.check();
    }
    throw new Error('the store did not settle in 500 rounds');
  }

  /** The page's list and the server's, as a person sees them. */
  compare() {
    const page = this.shown().map(({ id, task, done }) => ({ id, task, done }));
    const server = [...this.server.tasks.values()].sort(byPlace).map(({ id, task, done }) => ({ id, task, done }));
    expect(page).toEqual(server);
    expect(this.store.state.conflicts).toEqual([]);
  }
}

type Command = fc.AsyncCommand<World, World>;
const saved = (w: World) => w.shown().filter((t) => t.id > 0);
const pick = <T,>(list: readonly T[], i: number) => list[i % list.length]!;

function command(name: string, check: (w: World) => boolean, run: (w: World) => unknown): Command {
  return {
    check,
    async run(_model, w) {
      await run(w);
      await w.flush();
      w.check();
    },
    toString: () => name,
  };
}

const nat = fc.nat({ max: 1000 });
const text = fc.constantFrom(...TEXTS);
const always = () => true;

const commands = [
  // The person.
  text.map((t) => command(`add ${t}`, always, (w) => void w.store.add(t))),
  nat.map((i) => command(`toggle #${i}`, (w) => saved(w).length > 0, (w) => void w.store.toggle(pick(saved(w), i).id))),
  fc.tuple(nat, text).map(([i, t]) => command(`rename #${i} ${t}`, (w) => saved(w).length > 0, (w) => void w.store.rename(pick(saved(w), i).id, t))),
  fc.tuple(nat, nat, fc.boolean()).map(([i, j, before]) =>
    command(`move #${i} ${before ? 'before' : 'after'} #${j}`, (w) => saved(w).length > 1, (w) => {
      const [a, b] = [pick(saved(w), i), pick(saved(w), j)];
      if (a.id !== b.id && a.position !== undefined && b.position !== undefined) void moveNextTo(w.store, a.id, b.id, before ? 'before' : 'after');
    }),
  ),
  nat.map((i) => command(`delete #${i}`, (w) => saved(w).length > 0, (w) => void w.store.remove(pick(saved(w), i).id))),
  fc.constant(command('clear done', always, (w) => void w.store.clearDone())),
  fc.constant(command('reload', always, (w) => void w.store.load())),
  fc.boolean().map((keep) =>
    command(keep ? 'keep mine' : 'take theirs', (w) => w.store.state.conflicts.length > 0, (w) => (keep ? w.store.keepMine() : w.store.takeTheirs())),
  ),
  fc.constant(command('retry', (w) => !!w.store.state.notice?.retry, (w) => w.store.retryNotice())),
  // Another tab: it changes the server, then tells this one (BroadcastChannel), which loads the list.
  fc.tuple(nat, text, fc.boolean()).map(([i, t, toggle]) =>
    command(
      `other tab ${toggle ? 'toggles' : `renames to ${t}`} #${i}`,
      (w) => w.server.tasks.size > 0,
      (w) => {
        const task = pick([...w.server.tasks.values()], i);
        Object.assign(task, toggle ? { done: !task.done } : { task: t, position: positionBetween(null, [...w.server.tasks.values()].sort(byPlace)[0]!.position) }, { version: task.version + 1 });
        void w.store.load();
      },
    ),
  ),
  nat.map((i) =>
    command(`other tab deletes #${i}`, (w) => w.server.tasks.size > 0, (w) => {
      w.server.tasks.delete(pick([...w.server.tasks.keys()], i));
      void w.store.load();
    }),
  ),
  text.map((t) =>
    command(`other tab adds ${t}`, always, (w) => {
      w.server.create(t);
      void w.store.load();
    }),
  ),
  // The network: a request reaches the server (or not), an answer comes back, in any order.
  fc
    .tuple(nat, fc.constantFrom<Fate>('ok', 'ok', 'ok', 'unavailable', 'lost-before', 'lost-after'))
    .chain(([i, fate]) =>
      fc.constant(
        command(`server takes request #${i} (${fate})`, (w) => w.server.inbox.length > 0, (w) => {
          if (w.server.process(i, fate)) w.missed = true;
        }),
      ),
    ),
  nat.map((i) => command(`answer #${i} arrives`, (w) => w.server.outbox.length > 0, (w) => w.note(w.server.deliver(i)))),
  nat.map((i) => command(`answer #${i} arrives`, (w) => w.server.outbox.length > 0, (w) => w.note(w.server.deliver(i)))),
];

describe('the task store, model-based', () => {
  it('never shows an id twice or a deleted task again, and ends equal to the server', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(text, { maxLength: 4 }),
        fc.commands(commands, { maxCommands: 80, size: 'large' }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        async (initial, cmds, keepMine) => {
          const world = new World();
          for (const t of initial) world.server.create(t);
          void world.store.load();
          await fc.asyncModelRun(() => ({ model: world, real: world }), cmds);
          await world.settle(keepMine);
          // Every answer is in: the page shows the server, unless an answer was lost after the write
          // was made (the page rolled back a change that happened) or a list read failed; then the
          // next list settles it.
          if (!world.missed) world.compare();
          void world.store.load();
          await world.settle(keepMine);
          world.compare();
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);
});
