/**
 * Replay checks shared by the replay suites (PROTOCOL §5): visibility, the per-connection invariants
 * (ascending, no duplicate, replay before `replay:done`, live after it) and senders that keep writing.
 */
import type { ChatMessage } from '../../src/messages/chat-message.entity';
import type { Envelope } from '../../src/shared/protocol';
import { type ClientEvent, okAck, type TestClient } from '../support';

/** PROTOCOL §5 visibility for a human or an agent (no authorization traffic in these tests). */
export const visibleTo = (userId: number) => (m: ChatMessage) => m.targetId === userId || m.senderId === userId || m.targetId === null;

/**
 * Checks one connection's recording against §5 and returns the ids it received, in order:
 * strictly ascending (no duplicate, no reordering), all above `lastId`, replayed ones before
 * `replay:done` (whose `last_id` is the highest id sent so far), live ones after it.
 */
export function checkConnection(events: ClientEvent[], lastId: number): { ids: number[]; done?: number; replayed: number[] } {
  const ids: number[] = [];
  const replayed: number[] = [];
  let done: number | undefined;
  for (const ev of events) {
    if (ev.event === 'replay:done') {
      if (done !== undefined) throw new Error('replay:done arrived twice');
      done = (ev.data as { last_id: number }).last_id;
      expect(done).toBe(Math.max(lastId, ...ids));
      continue;
    }
    if (ev.event !== 'message') continue;
    const e = ev.data as Envelope;
    if (e.id === undefined) continue; // PRESENCE and SYSTEM_LOG are not part of the message log
    const prev = ids.length ? ids[ids.length - 1] : lastId;
    if (e.id <= prev) throw new Error(`id ${e.id} arrived after ${prev} (requested last_id ${lastId}): duplicate or out of order`);
    ids.push(e.id);
    if (done === undefined) replayed.push(e.id);
  }
  return { ids, done, replayed };
}

/** Send-await-ack loops until stopped; every ack must be ok. */
export function startSenders(specs: { client: TestClient; target?: number; tag: string }[]): { sent(): number; stop(): Promise<number> } {
  let stopped = false;
  let sent = 0;
  const loops = specs.map(async ({ client, target, tag }) => {
    for (let i = 0; !stopped; i++) {
      okAck(await client.send({ type: 'CHAT', target_id: target, payload: `${tag} ${i}` }));
      sent++;
    }
  });
  return {
    sent: () => sent,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return sent;
    },
  };
}
