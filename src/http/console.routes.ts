import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { Middleware } from 'koa';
import type { AppState } from './context';

/**
 * Serves the web console (PROTOCOL §8) from its build output: a file of the build, or `index.html`
 * for any other path that is not the API's, so that client routes survive a reload.
 *
 * Hand-written rather than koa-static: the build is a few small files, so they are listed and read
 * once into memory. Only a path that is in that list can be served at all, which rules out path
 * traversal by construction, and there is no per-request file system access to get wrong.
 */

/** Paths that belong to the server itself, never to the console. */
const SERVER_PATHS = /^\/(?:api|socket\.io|healthz|readyz|metrics)(?:\/|$)/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

interface BuiltFile {
  body: Buffer;
  type: string;
  /** Vite's hashed output under assets/: its name changes with its content. */
  hashed: boolean;
}

/** Where `npm run build` puts the console, seen from the compiled server or from the TypeScript source. */
export function defaultConsoleDir(): string {
  const candidates = [join(__dirname, '..', '..', 'console'), join(__dirname, '..', '..', 'dist', 'console')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[candidates.length - 1];
}

function readBuild(dir: string): Map<string, BuiltFile> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const files = new Map<string, BuiltFile>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const url = '/' + relative(dir, p).split(sep).join('/');
        files.set(url, { body: readFileSync(p), type: TYPES[extname(p)] ?? 'application/octet-stream', hashed: url.startsWith('/assets/') });
      }
    }
  };
  walk(dir);
  return files;
}

/**
 * The Content-Security-Policy of every console response: only this origin, for scripts, styles,
 * fetches and the Socket.IO connection (`ws:`/`wss:` to the same host, for browsers whose 'self'
 * does not cover websockets). The host comes from the request only when it is a plain host[:port].
 */
export function consolePolicy(host: string): string {
  const sameHostWs = /^[\w.-]+(?::\d+)?$|^\[[\da-f:.]+\](?::\d+)?$/i.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    `connect-src 'self'${sameHostWs}`,
    "img-src 'self'",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The console middleware; mount it after every router. GET and HEAD only; the server's own paths
 * fall through to the JSON 404. Without a build it answers 503 with what to run.
 */
export function consoleRoutes(dir: string = defaultConsoleDir()): Middleware<AppState> {
  // Read once found; until then looked for at each request, so a build made after start is picked up.
  let build: Map<string, BuiltFile> | undefined;
  return async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || SERVER_PATHS.test(ctx.path)) return next();
    build ??= readBuild(dir);
    if (!build) {
      ctx.status = 503;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = `The web console is not built (no ${join(dir, 'index.html')}). Run \`npm run build\`, then restart the server.\n`;
      return;
    }
    let file = build.get(ctx.path);
    // A missing file (an old hashed asset, a typo) is a 404, not the page: only client routes fall back.
    if (!file && extname(ctx.path)) return next();
    file ??= build.get('/index.html')!;
    ctx.set('Content-Security-Policy', consolePolicy(ctx.host));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', file.hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.type = file.type;
    ctx.body = file.body;
  };
}
