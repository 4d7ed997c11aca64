/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The SDK's parts on their own: backoff, the file cursor store, the send queue's resend after a
 * lost ack, and the dedupe of messages that arrive twice (replay and live).
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backoff, connectAgent, FileCursorStore, MemoryCursorStore } from '../../src/sdk';
import { SendQueue } from '../../src/sdk/send-queue';
import type { Envelope } from '../../src/shared/protocol';
import { eventually, sleep } from '../support';
import { tempDir } from './sdk-helpers';

describe('Backoff', () => {
  it('grows by the factor up to the cap, with the random share within [1 - jitter, 1] of each step, and resets', () => {
    const low = new Backoff({ minMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5, random: () => 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const high = new Backoff({ minMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([100, 200, 400, 800, 1_000]);
    expect(high.attempts).toBe(5);
    high.reset();
    expect(high.next()).toBe(100);
  });

  it('spreads clients that retry at the same moment', () => {
    const delays = new Set(Array.from({ length: 20 }, () => new Backoff({ minMs: 1_000 }).next()));
    expect(delays.size).toBeGreaterThan(1);
  });
});

describe('FileCursorStore', () => {
  it('returns undefined before the first save, then what was saved; writes by rename (no temp file left), mode 0600', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'nested', 'cursor.json');
      const store = new FileCursorStore(file);
      expect(await store.load()).toBeUndefined();
      await store.save({ lastId: 42, answered: ['act_a'], agentId: 7 });
      await store.save({ lastId: 43, answered: ['act_a', 'act_b'], agentId: 7 });
      expect(await new FileCursorStore(file).load()).toEqual({ lastId: 43, answered: ['act_a', 'act_b'], agentId: 7 });
      expect(readdirSync(join(dir.path, 'nested'))).toEqual(['cursor.json']);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      dir.remove();
    }
  });

  it('refuses a file that is not a cursor instead of starting over', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'cursor.json');
      writeFileSync(file, JSON.stringify({ lastId: 'x' }));
      await expect(new FileCursorStore(file).load()).rejects.toThrow('is not an agent cursor');
    } finally {
      dir.remove();
    }
  });
});

/** A socket.io-client stand-in: records emits; the test decides which acks arrive. */
function fakeSocket() {
  const sent: { envelope: any; ack: (err: Error | null, ack?: unknown) => void }[] = [];
  const socket = {
    connected: true,
    timeout: () => ({ emit: (_event: string, envelope: unknown, ack: (err: Error | null, a?: unknown) => void) => sent.push({ envelope, ack }) }),
  };
  return { socket: socket as any, sent };
}

describe('SendQueue', () => {
  it('resends an unacked envelope with the same local_id after a reconnect and ignores the late ack of the first try', async () => {
    const q = new SendQueue({ ackTimeoutMs: 1_000, retryDelayMs: () => 10 });
    const first = fakeSocket();
    q.attach(first.socket);
    let settled = 0;
    const done = q.send({ type: 'CHAT', target_id: 3, payload: 'x', local_id: 'ec_1' }).then((a) => (settled++, a));
    expect(first.sent).toHaveLength(1);
    // The connection drops before the ack: nothing is sent while detached.
    first.socket.connected = false;
    q.detach();
    first.sent[0].ack(new Error('socket has been disconnected'));
    const second = fakeSocket();
    q.attach(second.socket);
    expect(second.sent.map((s) => s.envelope)).toEqual([{ type: 'CHAT', target_id: 3, payload: 'x', local_id: 'ec_1' }]);
    second.sent[0].ack(null, { ok: true, id: 9, local_id: 'ec_1', timestamp: 't' });
    first.sent[0].ack(null, { ok: true, id: 9 });
    expect(await done).toEqual({ ok: true, id: 9, local_id: 'ec_1', timestamp: 't' });
    expect(settled).toBe(1);
    expect(q.size).toBe(0);
  });

  it('retries a transient refusal (UNAVAILABLE) and rejects a final one (VALIDATION_ERROR) with an AgentSendError', async () => {
    const q = new SendQueue({ ackTimeoutMs: 1_000, retryDelayMs: () => 5 });
    const s = fakeSocket();
    q.attach(s.socket);
    const ok = q.send({ type: 'CHAT', target_id: 3, payload: 'a', local_id: 'ec_a' });
    s.sent[0].ack(null, { ok: false, error: 'db down', code: 'UNAVAILABLE' });
    await eventually(() => s.sent.length === 2);
    s.sent[1].ack(null, { ok: true, id: 1 });
    await expect(ok).resolves.toEqual({ ok: true, id: 1 });
    const bad = q.send({ type: 'CHAT', target_id: 3, payload: 'b', local_id: 'ec_b' });
    s.sent[2].ack(null, { ok: false, error: 'no', code: 'VALIDATION_ERROR' });
    await expect(bad).rejects.toMatchObject({ name: 'AgentSendError', code: 'VALIDATION_ERROR', message: 'no' });
  });
});

describe('AgentClient dedupe', () => {
  it('hands a message that arrives twice (replay, then live) to the program once, and a directive once', async () => {
    // Port 1 refuses connections: the client stays disconnected and the test feeds it messages.
    const agent = connectAgent({ url: 'http://127.0.0.1:1', token: 'ec_x', cursor: new MemoryCursorStore(), backoff: { minMs: 60_000 } });
    const got: unknown[] = [];
    const ran: string[] = [];
    agent.onMessage((e) => got.push(e.payload)).onDirective((d) => (ran.push(d.actionId), new Promise(() => undefined)));
    const chat = (id: number, payload: string): Envelope => ({ id, type: 'CHAT', sender_id: 2, sender_name: 'ann', sender_role: 'MEMBER', target_id: 5, payload, timestamp: 't' });
    const directive: Envelope = { id: 4, local_id: 'act_1', type: 'CHAT', sender_id: 1, sender_name: 'butler', sender_role: 'BUTLER', target_id: 5, payload: '[DIRECTIVE] x', timestamp: 't' };
    const receive = (e: Envelope) => (agent as any).inbox.receive(e);
    try {
      for (const e of [chat(2, 'a'), chat(3, 'b'), chat(2, 'a'), directive, chat(3, 'b'), directive, chat(6, 'c')]) receive(e);
      expect(got).toEqual(['a', 'b', 'c']);
      await eventually(() => ran.length > 0);
      receive(directive);
      await sleep(50);
      expect(ran).toEqual(['act_1']);
      expect(agent.lastId).toBe(6);
      expect(agent.agentId).toBe(5);
      // The agent's own messages in a replay are skipped.
      receive({ id: 7, type: 'CHAT', sender_id: 5, sender_name: 'me', sender_role: 'AGENT', target_id: 2, payload: 'mine', timestamp: 't' });
      expect(got).toEqual(['a', 'b', 'c']);
    } finally {
      await agent.close({ timeoutMs: 10 });
    }
  });
});

