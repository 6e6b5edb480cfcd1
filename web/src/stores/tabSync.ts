import type { TaskStore } from './useTaskStore';

export interface TabSyncOptions {
  /** Tabs on the same channel tell each other of changes: one per page (origin and API). */
  channel: string;
  window?: Window;
}

/**
 * Keeps this tab in step with the server and the other tabs without polling (the API scales to zero
 * when nobody looks): the list is loaded again when the tab is shown or focused, and when another tab
 * of the same page says it changed something (BroadcastChannel, HTML Living Standard §9.4). A hidden
 * tab ignores the message: it loads when it is shown anyway. Returns the function that stops it.
 */
export function syncTabs(store: TaskStore, options: TabSyncOptions): () => void {
  const win = options.window ?? window;
  const doc = win.document;
  const visible = () => doc.visibilityState === 'visible';
  const refresh = () => void store.load();
  const onVisibility = () => {
    if (visible()) refresh();
  };
  const onFocus = () => refresh();
  win.addEventListener('focus', onFocus);
  doc.addEventListener('visibilitychange', onVisibility);

  const Channel = (win as Window & { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
  const channel = Channel ? new Channel(options.channel) : undefined;
  if (channel) {
    channel.onmessage = () => {
      if (visible()) refresh();
    };
  }
  const unsubscribe = store.subscribe(() => channel?.postMessage('changed'));

  return () => {
    win.removeEventListener('focus', onFocus);
    doc.removeEventListener('visibilitychange', onVisibility);
    unsubscribe();
    channel?.close();
  };
}
