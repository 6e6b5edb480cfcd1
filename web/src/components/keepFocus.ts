/**
 * Focus never ends on <body> because the page took the focused control away: a row that left the
 * list (deleted, ticked under Active, no longer matching the filter once its editor closed), the
 * Undo bar once pressed, Mark all as done once no task is shown. Once the page has settled (a task
 * after the change, so a component's own focus move comes first), focus goes to the first control
 * of the row (`li`) next to the removed one, or the one before it, else to `fallback`. A click
 * moves focus where the person put it (even on nothing): that is left alone.
 * WCAG 2.2 SC 2.4.3 Focus Order. Returns the function that stops it.
 */
export function keepFocus(root: HTMLElement, fallback: () => HTMLElement | null): () => void {
  let last: Element | null = null;
  const focused = (event: FocusEvent) => (last = event.target as Element);
  const clicked = () => (last = null);
  root.addEventListener('focusin', focused);
  document.addEventListener('pointerdown', clicked, true);
  const observer = new MutationObserver((records) => {
    // The rows beside a removed row that held focus: the next one (or the previous) takes it, as
    // after a delete (TasksView), so a person ticking down the Active list keeps their place.
    const near = records.flatMap((r) => ([...r.removedNodes].some((n) => last && n.contains(last)) ? [r.nextSibling, r.previousSibling] : []));
    setTimeout(() => {
      if (!last || last.isConnected || document.activeElement !== document.body) return;
      last = null;
      const row = near.find((n): n is HTMLLIElement => n instanceof HTMLLIElement && n.isConnected);
      (row?.querySelector<HTMLElement>('input, button') ?? fallback())?.focus();
    });
  });
  observer.observe(root, { childList: true, subtree: true });
  return () => {
    observer.disconnect();
    root.removeEventListener('focusin', focused);
    document.removeEventListener('pointerdown', clicked, true);
  };
}
