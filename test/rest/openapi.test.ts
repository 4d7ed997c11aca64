import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { buildOpenApiDocument } from '../../src/openapi/openapi.document';
import * as schemas from '../../src/openapi/openapi.schemas';
import { formatOpenApi, OPENAPI_FILE } from '../../src/openapi-write';
import { createAgent, createHuman, open, startTestApp, type TestApp } from '../support';

const ROOT = resolve(__dirname, '../..');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every `$ref` in a document, with where it was found. */
function refsOf(node: unknown, at = '#', out: { at: string; ref: string }[] = []) {
  if (Array.isArray(node)) node.forEach((v, i) => refsOf(v, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push({ at, ref: v });
      else refsOf(v, `${at}/${k}`, out);
    }
  }
  return out;
}

/** What a local JSON pointer names in `doc`, or undefined. */
function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), doc);
}

/** `METHOD /path/{param}` for every operation of the document. */
const documented = (doc: { paths: Record<string, Record<string, unknown>> }) =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((k) => METHODS.includes(k)).map((m) => `${m.toUpperCase()} ${path}`));

describe('GET /api/openapi.json', () => {
  let s: TestApp;
  let served: { openapi: string; paths: Record<string, Record<string, unknown>> };
  beforeAll(async () => {
    s = await startTestApp();
    const res = await s.api.get('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    served = res.body;
  });
  afterAll(() => s?.close());

  it('serves the document the code builds, which is the committed src/openapi/openapi.json (run `npm run openapi` after a change)', () => {
    const built = buildOpenApiDocument();
    expect(served).toEqual(JSON.parse(JSON.stringify(built)));
    expect(readFileSync(join(ROOT, OPENAPI_FILE), 'utf8')).toBe(formatOpenApi(built));
  });

  it('is OpenAPI 3.1 with paths, and every $ref resolves', () => {
    expect(served.openapi).toMatch(/^3\.1\.\d+$/);
    expect(Object.keys(served.paths).length).toBeGreaterThan(10);
    const refs = refsOf(served);
    expect(refs.length).toBeGreaterThan(20);
    expect(refs.filter(({ ref }) => resolvePointer(served, ref) === undefined)).toEqual([]);
  });

  it('validates against the OpenAPI 3.1 JSON schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(served));
      const run = spawnSync(process.execPath, [join(ROOT, 'test/support/validate-openapi.mjs'), file], { encoding: 'utf8', cwd: ROOT });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({ valid: true, version: '3.1', errors: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every route the Koa routers serve, and nothing they do not', () => {
    // @koa/router spells parameters `:id`; a prefixed '/' route is '/api/users/', which Koa also serves as '/api/users'.
    const served_ = s.app.routes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1')}`);
    expect(new Set(served_).size).toBe(served_.length);
    expect([...served_].sort()).toEqual(documented(served).sort());
  });

  it('every documented route answers something other than "No route" (404 NOT_FOUND with that message)', async () => {
    for (const op of documented(served)) {
      const [method, path] = op.split(' ');
      const res = await s.api.request(method, path.replace(/\{\w+\}/g, '1'), method === 'GET' || method === 'DELETE' ? undefined : {}, { token: s.adminToken });
      expect({ op, error: res.body?.error }).not.toEqual({ op, error: expect.stringMatching(/^No route for/) });
    }
  });

  describe('the documented response schemas match live responses', () => {
    const parses = (schema: z.ZodType, body: unknown) => {
      const r = schema.safeParse(body);
      if (!r.success) throw new Error(`${JSON.stringify(body)}\n${r.error.message}`);
    };

    it('sessions, users, agents, the Butler, tokens and test-connection', async () => {
      const login = await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
      parses(schemas.sessionSchema, login.body);
      const created = await s.api.post('/api/users', { username: 'doc-member', password: 'long-enough-pw', role: 'MEMBER' }, s.adminToken);
      expect(created.status).toBe(201);
      parses(schemas.createdUserSchema, created.body);
      const agent = await s.api.post('/api/users/agents', { username: 'doc-bot', description: 'documented' }, s.adminToken);
      expect(agent.status).toBe(201);
      parses(schemas.issuedTokenSchema, agent.body);
      parses(schemas.issuedTokenSchema, (await s.api.patch(`/api/users/agents/${agent.body.agent.id}/token`, undefined, s.adminToken)).body);
      parses(schemas.agentSchema, (await s.api.get('/api/users/butler', s.adminToken)).body);
      parses(schemas.userSchema.array(), (await s.api.get('/api/users', s.adminToken)).body);
      parses(schemas.agentSchema.array(), (await s.api.get('/api/users/agents', s.adminToken)).body);
      parses(schemas.testConnectionResultSchema, (await s.api.post('/api/users/agents/test-connection', { api_token: 'nope' }, s.adminToken)).body);
    });

    it('system-log entries, envelopes, authorization requests, statuses and errors', async () => {
      const bot = await createAgent(s.api, s.adminToken, 'doc-logger');
      const entry = await s.api.post('/api/messages', { level: 'INFO', content: 'documented' }, bot.token);
      expect(entry.status).toBe(201);
      parses(schemas.systemLogEntrySchema, entry.body);
      parses(schemas.systemLogEntrySchema.array(), (await s.api.get('/api/messages', s.adminToken)).body);
      const peer = await createHuman(s.api, s.adminToken, 'doc-peer');
      const chat = await open(s.url, 'chat', { auth: { token: s.adminToken } });
      try {
        expect(await chat.send({ type: 'CHAT', target_id: peer.user.id, payload: { content: 'documented' } })).toMatchObject({ ok: true });
      } finally {
        chat.close();
      }
      const history = (await s.api.get(`/api/chat/history/${peer.user.id}`, s.adminToken)).body;
      expect(history).toHaveLength(1);
      parses(schemas.envelopeSchema.array(), history);
      parses(schemas.authRequestSchema.array(), (await s.api.get('/api/chat/auth/requests', s.adminToken)).body);
      parses(schemas.statusSchema, (await s.api.get('/readyz')).body);
      parses(schemas.errorSchema, (await s.api.post('/api/chat/auth/response', { action_id: 'missing', approved: true }, s.adminToken)).body);
    });
  });
});
