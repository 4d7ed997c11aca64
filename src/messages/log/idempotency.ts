import type { Knex } from '@mikro-orm/knex';
import type { ChatMessage } from '../chat-message.entity';
import type { InsertedRow } from './insert-sql';
import type { Outcome } from './log.types';
import { fromRow, rawRows } from './rows';

/** The idempotency key of a message: its sender and `local_id` (PROTOCOL §3.4). */
export function keyOf(m: { senderId: number; localId: string | null }): string | undefined {
  return m.localId ? `${m.senderId}\u0000${m.localId}` : undefined;
}

/**
 * Gives each message the id the INSERT returned for it. The returned rows, in id order, are the
 * inserted messages in VALUES order; a message whose row is missing either repeats a `local_id`
 * earlier in this group (a duplicate of that one) or one stored before (left `undefined` here).
 */
export function matchInserted(messages: ChatMessage[], rows: InsertedRow[]): (Outcome | undefined)[] {
  const sorted = rows.map((r) => ({ id: Number(r.id), key: keyOf({ senderId: Number(r.sender_id), localId: r.local_id }) }));
  sorted.sort((a, b) => a.id - b.id);
  const returnedKeys = new Set(sorted.flatMap((r) => (r.key ? [r.key] : [])));
  const inGroup = new Map<string, ChatMessage>();
  let next = 0;
  return messages.map((message) => {
    const key = keyOf(message);
    if (key && inGroup.has(key)) return { message: inGroup.get(key)!, duplicate: true };
    if (key && !returnedKeys.has(key)) return undefined;
    const row = sorted[next++];
    if (!row || row.key !== key) throw new Error('message log: the INSERT returned rows out of VALUES order');
    message.id = row.id;
    if (key) inGroup.set(key, message);
    return { message, duplicate: false };
  });
}

/** The stored messages with the keys of `messages` (all have a `local_id`), by key. */
export async function findExisting(db: Knex, postgres: boolean, messages: ChatMessage[]): Promise<Map<string, ChatMessage>> {
  const pairs = messages.map(() => '(sender_id = ? and local_id = ?)').join(' or ');
  const result = await db.raw(
    `select * from chat_messages where ${pairs}`,
    messages.flatMap((m) => [m.senderId, m.localId as string]),
  );
  const map = new Map<string, ChatMessage>();
  for (const r of rawRows(result, postgres)) {
    const m = fromRow(r);
    map.set(keyOf(m)!, m);
  }
  return map;
}

/**
 * Fills in the messages the INSERT skipped for a `local_id` stored before: the original, flagged as a
 * duplicate. The rest of the group is committed by now, so a failure here is only these messages'.
 */
export async function resolveDuplicates(db: Knex, postgres: boolean, messages: ChatMessage[], outcomes: (Outcome | undefined)[]): Promise<Outcome[]> {
  const missing = outcomes.flatMap((o, i) => (o === undefined ? [i] : []));
  if (!missing.length) return outcomes as Outcome[];
  const existing = await findExisting(db, postgres, missing.map((i) => messages[i])).catch((err: Error) => err);
  for (const i of missing) {
    const found = existing instanceof Error ? undefined : existing.get(keyOf(messages[i])!);
    outcomes[i] = found
      ? { message: found, duplicate: true }
      : existing instanceof Error
        ? existing
        : new Error('a message with this local_id was stored and has since been deleted');
  }
  return outcomes as Outcome[];
}
