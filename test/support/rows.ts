/**
 * Small helpers shared by the REST suites: error assertions, direct inserts for bulk fixtures, and
 * an app with a movable clock. Fixtures that the REST API cannot create yet (chat messages) or that
 * would be slow through it (hundreds of rows for paging) go straight through the app's own ORM.
 */
import { createApp, type App, type AppDeps } from '../../src/app';
import { ChatMessage, type SenderRole } from '../../src/messages/chat-message.entity';
import { SystemLog, type LogLevel } from '../../src/messages/system-log.entity';
import { User, type Role } from '../../src/users/user.entity';
import type { Clock } from '../../src/shared/clock';
import { Api, type ApiResponse } from '../helpers/api';
import { createDb, type DbKind, type TestDb } from '../helpers/db';
import { testConfig } from '../helpers/server';

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

/** Inserts users without credentials (fixtures for paging only; they cannot log in). */
export async function insertUsers(app: App, names: string[], role: Role = 'MEMBER'): Promise<number[]> {
  const em = app.orm.em.fork();
  const rows = names.map((username) =>
    em.create(User, { username, usernameKey: username.toLowerCase(), role, createdAt: new Date(), description: null, status: null, lastReport: null, lastSeenAt: null }),
  );
  await em.flush();
  return rows.map((r) => r.id);
}

export interface ChatRow {
  from: { id: number; username: string; role: SenderRole };
  to: number | null;
  text: string;
  localId?: string;
}

/** Inserts chat messages (ids grow with the array) and returns their ids. */
export async function insertChats(app: App, rows: ChatRow[]): Promise<number[]> {
  const em = app.orm.em.fork();
  const created = rows.map((r) =>
    em.create(ChatMessage, {
      localId: r.localId ?? null,
      type: 'CHAT',
      senderId: r.from.id,
      senderName: r.from.username,
      senderRole: r.from.role,
      targetId: r.to,
      audience: null,
      payload: JSON.stringify(r.text),
      streamId: null,
      replyTo: null,
      createdAt: new Date(),
    }),
  );
  // One multi-row insert: both databases assign ids in the order of the rows.
  await em.flush();
  const ids = created.map((m) => m.id);
  if (ids.some((id, i) => i > 0 && id <= ids[i - 1])) throw new Error('ids not in insertion order');
  return ids;
}

/** Inserts system log entries in order and returns their ids. */
export async function insertLogs(app: App, count: number, level: LogLevel = 'INFO', content = (i: number) => `bulk entry ${i}`): Promise<number[]> {
  const em = app.orm.em.fork();
  const rows = Array.from({ length: count }, (_, i) =>
    em.create(SystemLog, { agentId: null, agentName: 'fixture', level, content: content(i), createdAt: new Date() }),
  );
  await em.flush();
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface CustomServer {
  app: App;
  api: Api;
  db: TestDb;
  close(): Promise<void>;
}

/** Like `startServer`, but with app dependencies (a clock, a logger) and no admin login. */
export async function startCustom(kind: DbKind, env: Record<string, string> = {}, deps: AppDeps = {}, db?: TestDb): Promise<CustomServer> {
  const database = db ?? (await createDb(kind));
  const app = await createApp(testConfig({ ...database.env, ...env }), deps);
  const url = await app.listen(0, '127.0.0.1');
  return {
    app,
    api: new Api(url),
    db: database,
    async close() {
      await app.close();
      if (!db) await database.drop();
    },
  };
}

/** Logs in and returns the token, failing loudly otherwise. */
export async function login(api: Api, username: string, password: string): Promise<string> {
  const res = await api.post('/api/auth/login', { username, password });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${res.text}`);
  return res.body.token;
}
