import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { fakeApi, mountApp, texts } from './harness';
import { filterFromFragment, syncFilterWithAddress } from '../stores/filterAddress';

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
  document.body.innerHTML = '';
  window.history.replaceState(null, '', '/');
});

async function mountAt(hash: string) {
  window.history.replaceState(null, '', `/${hash}`);
  const api = fakeApi(['One', 'Two', 'Three']);
  api.tasks[1]!.done = true;
  const mounted = await mountApp(api);
  stop = syncFilterWithAddress(mounted.store);
  await flushPromises();
  const filter = (name: string) => mounted.wrapper.findAll('[role="group"] button').find((b) => b.text().startsWith(name))!;
  return { ...mounted, filter };
}

describe('the filter in the address', () => {
  it('reads #/, #/active and #/done; anything else is All', () => {
    expect(filterFromFragment('')).toBe('all');
    expect(filterFromFragment('#/')).toBe('all');
    expect(filterFromFragment('#/active')).toBe('active');
    expect(filterFromFragment('#/done')).toBe('done');
    for (const other of ['#/Active', '#/completed', '#active', '#/done/', '#/active?x', '#', '#/%61ctive']) {
      expect(filterFromFragment(other)).toBe('all');
    }
  });

  it('opens on the filter the address names (a reload or a shared link)', async () => {
    const { wrapper, filter } = await mountAt('#/done');
    expect(texts(wrapper)).toEqual(['Two']);
    expect(filter('Done').attributes('aria-pressed')).toBe('true');
  });

  it('falls back to All on an unknown filter and puts #/ in the address', async () => {
    const { wrapper, filter } = await mountAt('#/nonsense');
    expect(texts(wrapper)).toEqual(['One', 'Two', 'Three']);
    expect(filter('All').attributes('aria-pressed')).toBe('true');
    expect(window.location.hash).toBe('#/');
  });

  it('treats an empty fragment (/#) as unknown: All, and #/ in the address', async () => {
    await mountAt('#');
    expect(window.location.href.endsWith('/#/')).toBe(true);
  });

  it('keeps an address without a fragment as it is (All)', async () => {
    const { wrapper } = await mountAt('');
    expect(texts(wrapper)).toEqual(['One', 'Two', 'Three']);
    expect(window.location.href.endsWith('/')).toBe(true);
  });

  it('adds a history entry per filter chosen, and back/forward choose it again', async () => {
    const { wrapper, filter } = await mountAt('#/');
    const entries = window.history.length;
    await filter('Active').trigger('click');
    expect(window.location.hash).toBe('#/active');
    expect(window.history.length).toBe(entries + 1);
    await filter('Done').trigger('click');
    expect(window.location.hash).toBe('#/done');
    expect(texts(wrapper)).toEqual(['Two']);

    // What the browser does on Back: the address changes, then popstate.
    window.history.replaceState(null, '', '#/active');
    window.dispatchEvent(new PopStateEvent('popstate'));
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Three']);
    expect(filter('Active').attributes('aria-pressed')).toBe('true');

    // Editing the fragment by hand (hashchange) chooses too.
    window.history.replaceState(null, '', '#/');
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    await flushPromises();
    expect(texts(wrapper)).toEqual(['One', 'Two', 'Three']);
    // Choosing the filter already shown adds no entry.
    const now = window.history.length;
    await filter('All').trigger('click');
    expect(window.history.length).toBe(now);
  });
});
