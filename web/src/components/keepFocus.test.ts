import { afterEach, describe, expect, it } from 'vitest';
import { keepFocus } from './keepFocus';

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  document.body.innerHTML = '';
});

/** The page: a fallback field and a control the page can take away. */
function page() {
  document.body.innerHTML = '<div id="root"><input id="new-task"><p id="bar"><button id="undo">Undo</button></p><h1 id="title">Tasks</h1></div>';
  const root = document.getElementById('root')!;
  stop = keepFocus(root, () => document.getElementById('new-task'));
  return { root, undo: document.getElementById('undo')!, field: document.getElementById('new-task')! };
}
// After the observer's task: the page has settled.
const settled = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('keepFocus', () => {
  it('a focused control the page removes gives focus to the fallback, not <body>', async () => {
    const { undo, field } = page();
    undo.focus();
    document.getElementById('bar')!.remove();
    await settled();
    expect(document.activeElement).toBe(field);
  });

  it('a removed row that held focus gives it to the next row, else the previous, else the fallback', async () => {
    const { root, field } = page();
    const list = root.appendChild(document.createElement('ul'));
    list.innerHTML = ['One', 'Two', 'Three'].map((t) => `<li><input type="checkbox" aria-label="${t}"><button>Edit</button></li>`).join('');
    const box = (name: string) => list.querySelector<HTMLElement>(`[aria-label="${name}"]`)!;
    box('Two').focus();
    box('Two').parentElement!.remove();
    await settled();
    expect(document.activeElement).toBe(box('Three'));
    box('Three').parentElement!.remove();
    await settled();
    expect(document.activeElement).toBe(box('One'));
    box('One').parentElement!.remove();
    await settled();
    expect(document.activeElement).toBe(field);
  });

  it('leaves a focus move the page made itself (in the same turn) where it is', async () => {
    const { undo, root } = page();
    const next = root.appendChild(document.createElement('button'));
    undo.focus();
    document.getElementById('bar')!.remove();
    next.focus();
    await settled();
    expect(document.activeElement).toBe(next);
  });

  it('leaves alone focus the person put on nothing with a click', async () => {
    const { undo } = page();
    undo.focus();
    document.dispatchEvent(new Event('pointerdown')); // a click on the title, which takes no focus
    undo.blur();
    document.getElementById('bar')!.remove();
    await settled();
    expect(document.activeElement).toBe(document.body);
  });

  it('stops when asked', async () => {
    const { undo } = page();
    stop!();
    stop = undefined;
    undo.focus();
    document.getElementById('bar')!.remove();
    await settled();
    expect(document.activeElement).toBe(document.body);
  });
});
