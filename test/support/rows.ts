/**
 * Rows written and read straight through the app's own ORM: fixtures the REST API cannot create (chat
 * messages) or that would be slow through it (hundreds of rows for paging), and "nothing was stored"
 * read-backs.
 */
import type { App } from '../../src/app';
import { ChatMessage, type SenderRole } from '../../src/messages/chat-message.entity';
import { SystemLog, type LogLevel } from '../../src/messages/system-log.entity';
import { User, type Role } from '../../src/users/user.entity';

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

/** Number of rows in the message log and the system log, read straight from the database. */
export async function rowCounts(app: App): Promise<{ chat: number; logs: number }> {
  const em = app.orm.em.fork();
  return { chat: await em.count(ChatMessage, {}), logs: await em.count(SystemLog, {}) };
}

/** All message-log rows, ascending by id. */
export async function storedMessages(app: App): Promise<ChatMessage[]> {
  return app.orm.em.fork().find(ChatMessage, {}, { orderBy: { id: 'asc' } });
}
