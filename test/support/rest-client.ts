/* eslint-disable @typescript-eslint/no-explicit-any */

export interface ApiResponse {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** Sent as-is instead of JSON-encoding `body`. */
  raw?: string;
}

/** A thin fetch wrapper for the REST API: JSON in, JSON (or text) out. */
export class RestClient {
  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    let payload: string | undefined = opts.raw;
    if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers['Content-Type'] ??= 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body: payload });
    const text = await res.text();
    let parsed: any = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  get(path: string, token?: string) {
    return this.request('GET', path, undefined, { token });
  }
  post(path: string, body?: unknown, token?: string) {
    return this.request('POST', path, body, { token });
  }
  patch(path: string, body?: unknown, token?: string) {
    return this.request('PATCH', path, body, { token });
  }
  delete(path: string, token?: string) {
    return this.request('DELETE', path, undefined, { token });
  }
}

/** UTC ISO-8601 with milliseconds (PROTOCOL §2.1). */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Asserts a documented error: the status, exactly `{error, code}` and a request id. */
export function expectError(res: ApiResponse, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(Object.keys(res.body).sort()).toEqual(['code', 'error']);
  expect(typeof res.body.error).toBe('string');
  expect(res.body.error.length).toBeGreaterThan(0);
  expect(res.headers.get('x-request-id')).toBeTruthy();
}
