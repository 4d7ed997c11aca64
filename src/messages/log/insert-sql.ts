import type { ChatMessage } from '../chat-message.entity';

const INSERT_SQL =
  'insert into chat_messages (local_id, type, sender_id, sender_name, sender_role, target_id, audience, payload, stream_id, reply_to, created_at) values';
const ON_CONFLICT_RETURNING = 'on conflict (sender_id, local_id) do nothing returning id, sender_id, local_id';

/** What the group INSERT returns for each row it stored. */
export interface InsertedRow {
  id: number | string;
  sender_id: number | string;
  local_id: string | null;
}

/**
 * The group's one statement: a multi-row `INSERT … ON CONFLICT (sender_id, local_id) DO NOTHING
 * RETURNING`, valid on both databases, with `?` placeholders. Hand-written: the query builder's
 * quoting showed up in profiles.
 */
export function insertStatement(messages: ChatMessage[], now: Date, postgres: boolean): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  // SQLite keeps a datetime as epoch milliseconds: a literal, like the ids below.
  const millis = String(now.getTime());
  // Placeholders are positional: the parameters are pushed in the order of the columns.
  const values = messages.map((m) => {
    const row = [
      bindText(params, m.localId), word(params, m.type), int(params, m.senderId), bind(params, m.senderName), word(params, m.senderRole),
      int(params, m.targetId), word(params, m.audience), bind(params, m.payload), bindText(params, m.streamId), int(params, m.replyTo),
      postgres ? bind(params, now) : millis,
    ];
    return `(${row.join(', ')})`;
  });
  return { sql: `${INSERT_SQL} ${values.join(', ')} ${ON_CONFLICT_RETURNING}`, params };
}

// A group's INSERT writes ids, enum words and NULLs into the SQL text and binds only free text.
// Binding a value is work on the event loop's thread in node-sqlite3 (about 3.5 us a row for eleven
// parameters, most of the driver's cost there); parsing a literal is the driver thread's. Anything
// that is not plainly an integer or an upper-case word is bound like text, so nothing a client
// wrote is ever part of the SQL.

/** Adds a parameter; its placeholder. */
function bind(params: unknown[], value: unknown): string {
  params.push(value);
  return '?';
}

function bindText(params: unknown[], value: string | null): string {
  return value === null ? 'NULL' : bind(params, value);
}

function int(params: unknown[], value: number | null): string {
  if (value === null) return 'NULL';
  return Number.isSafeInteger(value) ? String(value) : bind(params, value);
}

/** A type, role or audience (`CHAT`, `MEMBER`, `ADMINS`…): set by the server, never by a client. */
function word(params: unknown[], value: string | null): string {
  if (value === null) return 'NULL';
  return /^[A-Z_]{1,32}$/.test(value) ? `'${value}'` : bind(params, value);
}
