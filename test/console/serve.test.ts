import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { consolePolicy, consoleRoutes } from '../../src/http/console.routes';
import { expectError, startTestApp, type TestApp } from '../support';

describe('GET / and client routes: the web console (PROTOCOL §8)', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ login: false });
  }, 60_000);
  afterAll(() => s?.close());

  it('serves index.html at / with no-cache and a Content-Security-Policy of its own origin only', async () => {
    const res = await s.api.get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<div id="app"></div>');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves the hashed assets the page names with a year of immutable caching', async () => {
    const page = (await s.api.get('/')).text;
    const assets = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const path of assets) {
      const res = await s.api.get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type')).toMatch(path.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    }
  });

  it.each(['/chat/12', '/approvals', '/admin/users?x=1', '/apis-are-not-api'])('answers the client route %s with index.html', async (path) => {
    const res = await s.api.get(path);
    expect(res.status).toBe(200);
    expect(res.text).toContain('<div id="app"></div>');
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });

  it.each([
    ['GET', '/api/nope'],
    ['GET', '/api'],
    ['GET', '/assets/index-missing.js'],
    ['GET', '/favicon.ico'],
    ['POST', '/'],
  ])('leaves %s %s to the JSON 404 (no page for the API, for a missing file or another method)', async (method, path) => {
    expectError(await s.api.request(method, path), 404, 'NOT_FOUND');
  });

  it('keeps the server paths: /healthz, /metrics and /api/ping answer as before', async () => {
    expect((await s.api.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await s.api.get('/api/ping')).body).toEqual({ status: 'ok' });
    expect((await s.api.get('/metrics')).text).toContain('# HELP');
  });

  it('answers 503 with what to run when the console was never built, instead of failing', async () => {
    const koa = new Koa();
    koa.use(consoleRoutes(join(mkdtempSync(join(tmpdir(), 'no-console-')), 'console')));
    const server = koa.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/chat/1`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toContain('npm run build');
    } finally {
      server.close();
    }
  });

  it('puts a websocket source in the policy only for a plain host', () => {
    expect(consolePolicy('example.org:8080')).toContain('connect-src \'self\' ws://example.org:8080 wss://example.org:8080;');
    expect(consolePolicy('[::1]:80')).toContain('ws://[::1]:80');
    expect(consolePolicy("evil.org; script-src *")).toContain("connect-src 'self';");
  });
});
