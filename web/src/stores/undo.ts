import { reactive } from 'vue';
import { newIdempotencyKey } from '../api/client';
import type { Task, TaskStore } from './useTaskStore';

/** How long Undo is offered after a delete or Clear done; paused while the person is on the offer. */
export const UNDO_WINDOW_MS = 8000;

/**
 * The most ids one restore request names: under the API's MAX_RESTORE_IDS (1000, schemas.ts), and
 * at 24 bytes for the longest `{"id":N},` 12 KB, under its 16 KiB body limit
 * (functions/api/routes/api.ts BODY_LIMIT_BYTES). More go in several.
 */
export const IDS_PER_RESTORE = 500;

interface Offer {
  text: string;
  tasks: Task[];
  /** One key per Undo offer: pressing Undo twice, or Retry, restores once (batches: `<key>-<n>`). */
  key: string;
}

/**
 * Undo of the person's deletes. The delete is made at once, as before (DELETE, one per task); for
 * UNDO_WINDOW_MS after it ends the page offers Undo, which asks the API to put the same ids back
 * (`store.restore`, POST /api/tasks/restore): the API restores what its database recorded at the
 * delete, text, done and position, and the page shows that. Closing the page meanwhile leaves the
 * delete made. The offer is for the last delete pressed (one task, or one Clear done): an earlier
 * delete whose answer comes later neither replaces it nor joins it, and stays made. Nothing runs
 * once the offer is gone.
 */
export function createUndo(store: TaskStore, windowMs = UNDO_WINDOW_MS) {
  const state = reactive({ offer: null as Offer | null });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let paused = false;

  const stopTimer = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const startTimer = () => {
    stopTimer();
    if (state.offer && !paused) timer = setTimeout(() => (state.offer = null), windowMs);
  };

  // Counts the deletes pressed: the offer is for the last one, whichever answer comes last.
  let pressed = 0;

  /** Runs `remove` on `tasks`, then offers Undo for those the server no longer has, unless a later delete was pressed meanwhile. */
  async function deleting(tasks: readonly Task[], remove: () => Promise<unknown>) {
    const turn = ++pressed;
    const snapshot = tasks.filter((t) => t.id > 0).map((t) => ({ ...t }));
    await remove();
    if (turn !== pressed) return;
    const deleted = snapshot.filter((t) => !store.state.tasks.some((x) => x.id === t.id));
    if (!deleted.length) return;
    state.offer = {
      text: deleted.length === 1 ? `Deleted “${deleted[0]!.task}”.` : `Deleted ${deleted.length} tasks.`,
      tasks: deleted,
      key: newIdempotencyKey(),
    };
    startTimer();
  }

  async function send(offer: Offer) {
    const batches = split(offer.tasks.map((t) => t.id));
    try {
      let back = 0;
      for (const [i, batch] of batches.entries()) back += (await store.restore(batch, batches.length === 1 ? offer.key : `${offer.key}-${i}`)).length;
      const missing = offer.tasks.length - back;
      // The API keeps a delete 24 h, and restores it once: the rest was put back elsewhere, or is too old.
      if (missing > 0) store.state.notice = { text: `${missing} not restored: undone elsewhere, or too old.` };
    } catch (err) {
      // Retry sends the same keys: the batches that did land are answered from the API's record.
      store.state.notice = { text: `Couldn’t undo: ${err instanceof Error ? err.message : String(err)}`, retry: () => void send(offer) };
    }
  }

  return {
    state,
    remove(id: number) {
      const task = store.state.tasks.find((t) => t.id === id);
      return deleting(task ? [task] : [], () => store.remove(id));
    },
    clearDone() {
      return deleting(
        store.state.tasks.filter((t) => t.done),
        () => store.clearDone(),
      );
    },
    /** Puts the offered tasks back (once, however often it is pressed); the offer goes at once. */
    undo(): Promise<void> {
      const offer = state.offer;
      if (!offer) return Promise.resolve();
      state.offer = null;
      stopTimer();
      return send(offer);
    },
    /** While the person is on the offer (focus or pointer) its time does not run out (WCAG 2.2.1). */
    pause(on: boolean) {
      paused = on;
      if (on) stopTimer();
      else startTimer();
    },
  };
}

export type Undo = ReturnType<typeof createUndo>;

/** The ids of each restore body: IDS_PER_RESTORE at most. */
export function split(ids: readonly number[]): number[][] {
  const batches: number[][] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_RESTORE) batches.push(ids.slice(i, i + IDS_PER_RESTORE));
  return batches;
}

const undos = new WeakMap<TaskStore, Undo>();

/** The one Undo of a store (made on first use), for the components that delete and the one that offers it. */
export function undoFor(store: TaskStore): Undo {
  let undo = undos.get(store);
  if (!undo) undos.set(store, (undo = createUndo(store)));
  return undo;
}
