import { ref, type Ref } from 'vue';
import type { ErrorCode } from '../../../functions/api/schemas';
import { entityTag } from '../../../functions/api/entity-tag';

/** The API's codes, nginx's own JSON answers (502, 504), and the page's for what it detects itself. */
export type ApiErrorCode = ErrorCode | 'api_unavailable' | 'api_timeout' | 'network_error' | 'bad_response' | 'http_error';

/**
 * An API failure with the API's own `{ success: false, message, code }` when it sent one; `body` is
 * the whole parsed answer (a 412 `precondition_failed` carries the current `task` in it).
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: ApiErrorCode,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  /** A request still running after this long means the API is probably waking up from zero. */
  slowAfterMs?: number;
  /** How long reads and keyed writes keep retrying while the API is unreachable (502/503/504 or network error). */
  retryForMs?: number;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  /**
   * Sent as `Idempotency-Key` (one per user action, see newIdempotencyKey). A keyed write is retried
   * like a read: the API answers a repeat from its record instead of writing twice.
   */
  idempotencyKey?: string;
  /**
   * The task version the change is based on, sent as `If-Match: "<version>"` (a strong entity tag,
   * RFC 9110 §13.1.1): the API answers 412 `precondition_failed` when the task changed meanwhile.
   */
  ifMatch?: number;
}

export interface ApiClient {
  request<T>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T>;
  /** True while any request has been running longer than `slowAfterMs`. */
  waking: Readonly<Ref<boolean>>;
  /**
   * The API's message while it says the database is down (503 `database_unavailable`), from that
   * answer on, also while reads keep retrying; null again at the next answer that is not one. The
   * API is awake then, so the page shows this instead of "waking up" or "starting".
   */
  outage: Readonly<Ref<string | null>>;
  /**
   * True from a try that got no answer at all (the server is not there, or the network is down)
   * to the next answer. Locally nothing sleeps, so the page says the API cannot be reached rather
   * than that it is starting.
   */
  unreachable: Readonly<Ref<boolean>>;
}

const unavailable = new Set([502, 503, 504]);

/**
 * A fresh random key for one user action: a UUID v4. crypto.randomUUID exists only in secure
 * contexts (HTTPS, localhost); getRandomValues exists everywhere, so plain-HTTP pages get one too.
 */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The header value: an RFC 8941 string, as the Idempotency-Key draft requires. */
const quoted = (key: string) => `"${key.replace(/["\\]/g, '\\$&')}"`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createApiClient(options: ApiClientOptions): ApiClient {
  const { slowAfterMs = 700, retryForMs = 20_000 } = options;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const base = options.baseUrl.replace(/\/+$/, '');
  const waking = ref(false);
  const outage = ref<string | null>(null);
  const unreachable = ref(false);
  let slowCount = 0;

  async function once<T>(method: string, path: string, body: unknown, key: string | undefined, ifMatch: number | undefined): Promise<T> {
    let res: Response;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (key !== undefined) headers['Idempotency-Key'] = quoted(key);
    if (ifMatch !== undefined) headers['If-Match'] = entityTag(ifMatch);
    try {
      res = await doFetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      unreachable.value = true;
      throw new ApiError('The API cannot be reached. Check your connection.', 0, 'network_error');
    }
    unreachable.value = false;
    const data = (await res.json().catch(() => null)) as { message?: unknown; code?: unknown } | null;
    outage.value = data?.code === 'database_unavailable' ? (typeof data.message === 'string' ? data.message : 'The database is not reachable right now') : null;
    if (!res.ok) {
      const message = typeof data?.message === 'string' ? data.message : `The API answered ${res.status}.`;
      const code = typeof data?.code === 'string' ? (data.code as ApiErrorCode) : unavailable.has(res.status) ? 'api_unavailable' : 'http_error';
      throw new ApiError(message, res.status, code, data);
    }
    if (data === null) throw new ApiError('The API sent an answer that is not JSON.', res.status, 'bad_response');
    return data as T;
  }

  async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    let slow = false;
    const timer = setTimeout(() => {
      slow = true;
      slowCount++;
      waking.value = true;
    }, slowAfterMs);
    // Reads are safe to repeat, so they wait out a scale-from-zero (502/503/504, a timeout, a
    // dropped connection). So is a write with an Idempotency-Key: the API runs it once and answers
    // a repeat from its record; 409 means the first try is still running. A write without a key
    // fails at once and the caller rolls back, because it must not run twice.
    const key = options.idempotencyKey;
    const retries = method === 'GET' || method === 'HEAD' || key !== undefined;
    const deadline = Date.now() + retryForMs;
    try {
      for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
        try {
          return await once<T>(method, path, body, key, options.ifMatch);
        } catch (err) {
          const again =
            retries &&
            err instanceof ApiError &&
            (err.status === 0 || unavailable.has(err.status) || (key !== undefined && err.code === 'idempotency_key_in_use'));
          // A first try still running is answered with Retry-After: 1; ask again within a second.
          const wait = err instanceof ApiError && err.code === 'idempotency_key_in_use' ? Math.min(delay, 1000) : delay;
          if (!again || Date.now() + wait > deadline) throw err;
          await sleep(wait);
        }
      }
    } finally {
      clearTimeout(timer);
      if (slow && --slowCount === 0) waking.value = false;
    }
  }

  return { request, waking, outage, unreachable };
}
