import { ref, type Ref } from 'vue';
import type { ErrorCode } from '../../../functions/api/schemas';

/** The API's codes, nginx's own JSON answers (502, 504), and the page's for what it detects itself. */
export type ApiErrorCode = ErrorCode | 'api_unavailable' | 'api_timeout' | 'network_error' | 'bad_response' | 'http_error';

/** An API failure with the API's own `{ success: false, message, code }` when it sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: ApiErrorCode,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  /** A request still running after this long means the API is probably waking up from zero. */
  slowAfterMs?: number;
  /** How long reads keep retrying while the API is unreachable (502/503/504 or network error). */
  retryForMs?: number;
  fetch?: typeof fetch;
}

export interface ApiClient {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** True while any request has been running longer than `slowAfterMs`. */
  waking: Readonly<Ref<boolean>>;
}

const unavailable = new Set([502, 503, 504]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createApiClient(options: ApiClientOptions): ApiClient {
  const { slowAfterMs = 700, retryForMs = 20_000 } = options;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const base = options.baseUrl.replace(/\/+$/, '');
  const waking = ref(false);
  let slowCount = 0;

  async function once<T>(method: string, path: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(base + path, {
        method,
        headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError('The API cannot be reached. Check your connection.', 0, 'network_error');
    }
    const data = (await res.json().catch(() => null)) as { message?: unknown; code?: unknown } | null;
    if (!res.ok) {
      const message = typeof data?.message === 'string' ? data.message : `The API answered ${res.status}.`;
      const code = typeof data?.code === 'string' ? (data.code as ApiErrorCode) : unavailable.has(res.status) ? 'api_unavailable' : 'http_error';
      throw new ApiError(message, res.status, code);
    }
    if (data === null) throw new ApiError('The API sent an answer that is not JSON.', res.status, 'bad_response');
    return data as T;
  }

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let slow = false;
    const timer = setTimeout(() => {
      slow = true;
      slowCount++;
      waking.value = true;
    }, slowAfterMs);
    // Reads are safe to repeat, so they wait out a scale-from-zero; writes fail at once and
    // the caller rolls back, because a write that reached the API must not run twice.
    const retries = method === 'GET' || method === 'HEAD';
    const deadline = Date.now() + retryForMs;
    try {
      for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
        try {
          return await once<T>(method, path, body);
        } catch (err) {
          const again = retries && err instanceof ApiError && (err.status === 0 || unavailable.has(err.status));
          if (!again || Date.now() + delay > deadline) throw err;
          await sleep(delay);
        }
      }
    } finally {
      clearTimeout(timer);
      if (slow && --slowCount === 0) waking.value = false;
    }
  }

  return { request, waking };
}
