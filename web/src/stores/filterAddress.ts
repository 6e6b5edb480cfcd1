import { watch } from 'vue';
import type { Filter, TaskStore } from './useTaskStore';

/**
 * The filter's place in the address: its fragment, as TodoMVC keeps it (`#/`, `#/active`, `#/done`,
 * named as the page names the filters). The fragment never reaches the server (RFC 3986 §3.5), so
 * every host serves the one page for every filter with no rule of its own (nginx, `npm start`,
 * `npm run dev`, the image), and a shared link or a reload opens the same filter.
 */
export const FILTER_FRAGMENTS: Record<Filter, string> = { all: '#/', active: '#/active', done: '#/done' };

/** The filter a fragment names (`location.hash`, with its `#`); anything else is All. */
export function filterFromFragment(hash: string): Filter {
  const match = (Object.keys(FILTER_FRAGMENTS) as Filter[]).find((f) => FILTER_FRAGMENTS[f] === hash);
  return match ?? 'all';
}

/**
 * Keeps `store.state.filter` and the address in step: the address decides at start (an unknown
 * fragment is replaced by `#/`, so the address says what is shown), choosing a filter adds a history
 * entry (`pushState`), and back/forward (`popstate`, `hashchange`) or an edited fragment choose it
 * again. Returns the function that stops it.
 */
export function syncFilterWithAddress(store: TaskStore, win: Window = window): () => void {
  const fromAddress = () => {
    const filter = filterFromFragment(win.location.hash);
    // An empty fragment (`/#`) is as unknown as any other; no fragment at all (`/`) is left as it is.
    if ((win.location.hash !== '' || win.location.href.endsWith('#')) && win.location.hash !== FILTER_FRAGMENTS[filter]) {
      win.history.replaceState(win.history.state, '', FILTER_FRAGMENTS[filter]);
    }
    store.setFilter(filter);
  };
  fromAddress();
  const stop = watch(
    () => store.state.filter,
    (filter) => {
      if (filterFromFragment(win.location.hash) !== filter) win.history.pushState(null, '', FILTER_FRAGMENTS[filter]);
    },
    { flush: 'sync' },
  );
  win.addEventListener('popstate', fromAddress);
  win.addEventListener('hashchange', fromAddress);
  return () => {
    stop();
    win.removeEventListener('popstate', fromAddress);
    win.removeEventListener('hashchange', fromAddress);
  };
}
