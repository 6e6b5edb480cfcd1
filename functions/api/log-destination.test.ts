import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogDestination } from './log-destination';

/**
 * A real pipe into a child: its write end's descriptor (non-blocking, as libuv opens it) and what
 * the child prints. `cat` reads it; `sleep` never does (a stalled log collector).
 */
function catPipe(read: boolean) {
  const child = spawn(read ? 'cat' : 'sleep', read ? [] : ['60'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  if (read) child.stdout!.on('data', (d) => (out += d));
  const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  return { child, fd, out: () => out };
}
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('log destination', () => {
  it('writes every line, in order, to a pipe that is read', async () => {
    const cat = catPipe(true);
    children.push(cat.child);
    const dest = createLogDestination({ fd: cat.fd });
    const lines = Array.from({ length: 20_000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 300)}"}\n`);
    for (const [i, l] of lines.entries()) {
      dest.write(l);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r)); // let some batches go out in between
    }
    expect(await dest.drain(30_000)).toBe(true);
    const closed = new Promise((r) => cat.child.on('close', r));
    cat.child.stdin!.end();
    await closed;
    expect(cat.out()).toBe(lines.join(''));
    expect(dest.dropped).toBe(0);
  });

  it('never blocks on a reader that stopped: queues up to the cap, then drops and counts', async () => {
    const cat = catPipe(false);
    children.push(cat.child);
    const cap = 256 * 1024;
    const dest = createLogDestination({ fd: cat.fd, maxQueuedChars: cap });
    const line = `${'y'.repeat(1023)}\n`;
    const total = 2000; // 2 MB: more than both pipes and the cap hold
    for (let i = 0; i < total; i++) dest.write(line); // returns at once every time
    expect(await dest.drain(300)).toBe(false); // still waiting: stalled, not lost
    expect(dest.dropped).toBeGreaterThan(0);
    const droppedBefore = dest.dropped;
    const atExit = dest.flushNow();
    expect(atExit).toBeGreaterThan(0); // the queued lines the pipe cannot take are given up
    expect(dest.dropped).toBe(droppedBefore + atExit);
    expect(dest.dropped).toBeLessThanOrEqual(total);
    expect(await dest.drain(0)).toBe(true); // nothing left to wait for
  });
});
