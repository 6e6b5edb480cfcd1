import { writeSync } from 'node:fs';

/** How much log text may wait for a slow reader before new lines are dropped (characters, about bytes). */
export const MAX_QUEUED_CHARS = 4 * 1024 * 1024;
/** How long to wait before trying a full pipe again. */
const RETRY_MS = 20;

export interface LogDestination {
  /** pino's sink: one JSON line (with its newline) per call. Never blocks; drops past the cap. */
  write(line: string): void;
  /** Resolves true once every queued line is written, false if `ms` passed first (nothing is dropped by this). */
  drain(ms: number): Promise<boolean>;
  /**
   * Writes what the file descriptor takes right now, without waiting, and gives up on the rest:
   * those lines count as dropped. For the process's `exit` event, where no event loop is left.
   * Returns the lines dropped by this call.
   */
  flushNow(): number;
  /** Lines dropped so far: over the cap while the reader was stalled, or unwritten at exit. */
  readonly dropped: number;
}

/**
 * The log's way to stdout (or any fd): lines are queued and written in one `write(2)` per turn of
 * the event loop, in order, on a non-blocking descriptor. So a log line costs the request a string
 * push instead of a system call, and a reader that stops reading (a stalled log collector, a pipe
 * nobody reads) never blocks the event loop: lines wait, up to {@link MAX_QUEUED_CHARS}, then new
 * ones are dropped and counted. A pipe or socket on fd 1/2 is switched to non-blocking mode by
 * opening it as Node's `process.stdout`/`process.stderr` (libuv's `uv_pipe_open`); a file never
 * blocks, and a terminal stays blocking (what a person at a terminal expects).
 */
export function createLogDestination({ fd = 1, maxQueuedChars = MAX_QUEUED_CHARS }: { fd?: number; maxQueuedChars?: number } = {}): LogDestination {
  if (fd === 1) void process.stdout.fd;
  else if (fd === 2) void process.stderr.fd;
  let queue: string[] = [];
  let queuedChars = 0;
  /** The unwritten tail of the last chunk: always goes before the queue. */
  let pending: Buffer | undefined;
  let scheduled = false;
  let closed = false; // EPIPE or the like: nobody will ever read
  let dropped = 0;
  let waiters: Array<() => void> = [];

  const linesIn = (buf: Buffer) => {
    let n = 0;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
    return n;
  };
  const discardAll = () => {
    const n = queue.length + (pending ? linesIn(pending) : 0);
    queue = [];
    queuedChars = 0;
    pending = undefined;
    dropped += n;
    return n;
  };

  /** Writes until done or the descriptor is full; true when nothing is left. */
  const writeSome = (): boolean => {
    for (;;) {
      if (!pending) {
        if (queue.length === 0) return true;
        pending = Buffer.from(queue.length === 1 ? queue[0]! : queue.join(''));
        queue = [];
        queuedChars = 0;
      }
      try {
        const n = writeSync(fd, pending);
        pending = n < pending.length ? pending.subarray(n) : undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        closed = true; // EPIPE, EBADF: the reader is gone for good
        discardAll();
        return true;
      }
    }
  };

  const flush = () => {
    scheduled = false;
    if (writeSome()) {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    } else {
      scheduled = true;
      setTimeout(flush, RETRY_MS).unref();
    }
  };

  return {
    write(line) {
      if (closed || queuedChars + (pending?.length ?? 0) + line.length > maxQueuedChars) {
        dropped++;
        return;
      }
      queue.push(line);
      queuedChars += line.length;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    drain(ms) {
      if (!pending && queue.length === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        timer.unref();
        waiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    flushNow() {
      return writeSome() ? 0 : discardAll();
    },
    get dropped() {
      return dropped;
    },
  };
}
