/**
 * Focus never ends on <body> because the page took the focused control away: a row that left the
 * list (deleted, or no longer matching the filter once its editor closed), the Undo bar once pressed,
 * Mark all as done once no task is shown. Once the page has settled (a task after the change, so a
 * component's own focus move, e.g. to the next row after a delete, comes first), focus goes to
 * `fallback`. A click moves focus where the person put it (even on nothing): that is left alone.
 * WCAG 2.2 SC 2.4.3 Focus Order. Returns the function that stops it.
 */
export function keepFocus(root: HTMLElement, fallback: () => HTMLElement | null): () => void {
  let last: Element | null = null;
  const focused = (event: FocusEvent) => (last = event.target as Element);
  const clicked = () => (last = null);
  root.addEventListener('focusin', focused);
  document.addEventListener('pointerdown', clicked, true);
  const observer = new MutationObserver(() =>
    setTimeout(() => {
      if (last && !last.isConnected && document.activeElement === document.body) {
        last = null;
        fallback()?.focus();
      }
    }),
  );
  observer.observe(root, { childList: true, subtree: true });
  return () => {
    observer.disconnect();
    root.removeEventListener('focusin', focused);
    document.removeEventListener('pointerdown', clicked, true);
  };
}
