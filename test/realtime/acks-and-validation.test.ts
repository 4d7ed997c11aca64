import type { Envelope } from '../../src/shared/protocol';
import { closeAll, createAgent, createHuman, dbKinds, expectNoneOf, expectRefused, ISO_MS, okAck, openWith, rowCounts, startTestApp, type TestApp, type TestClient, times, warnIfPostgresSkipped, withPayload } from '../support';

const MAX = 1024;
const ENVELOPE_KEYS = ['id', 'local_id', 'payload', 'reply_to', 'sender_id', 'sender_name', 'sender_role', 'stream_id', 'target_id', 'timestamp', 'type'];

describe.each(dbKinds())('message acks and validation (PROTOCOL §3.1, §3.3) on %s', (kind) => {
  let s: TestApp;
  let alice: { user: { id: number }; token: string };
  let bob: { user: { id: number }; token: string };
  let bot: { agent: { id: number }; token: string };
  let A1: TestClient, A2: TestClient, B: TestClient, X: TestClient;

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/acks-and-validation');
    s = await startTestApp({ db: kind, env: { MAX_PAYLOAD_BYTES: String(MAX) } });
    alice = await createHuman(s.api, s.adminToken, 'alice');
    bob = await createHuman(s.api, s.adminToken, 'bob');
    bot = await createAgent(s.api, s.adminToken, 'ackbot');
    [A1, A2, B, X] = await Promise.all([
      openWith(s.url, 'chat', alice.token),
      openWith(s.url, 'chat', alice.token),
      openWith(s.url, 'chat', bob.token),
      openWith(s.url, 'agents', bot.token),
    ]);
  });
  beforeEach(() => {
    for (const c of [A1, A2, B, X]) c.events.length = 0;
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  const history = async (token: string, peer: number) => (await s.api.get(`/api/chat/history/${peer}?limit=200`, token)).body as Envelope[];

  describe('CHAT acks and delivered envelopes', () => {
    it('acks {ok, id, local_id, timestamp} once committed, and delivers the same id and timestamp that history returns', async () => {
      const ack = await A1.send({ type: 'CHAT', target_id: bob.user.id, payload: 'shape check', local_id: 'shape-1' });
      expect(ack).toEqual({ ok: true, id: expect.any(Number), local_id: 'shape-1', timestamp: expect.stringMatching(ISO_MS) });
      const { id, timestamp } = okAck(ack);
      const delivered = await B.waitFor(withPayload('shape check'));
      expect(Object.keys(delivered).sort()).toEqual(ENVELOPE_KEYS);
      expect(delivered).toEqual({
        id,
        local_id: 'shape-1',
        type: 'CHAT',
        sender_id: alice.user.id,
        sender_name: 'alice',
        sender_role: 'MEMBER',
        target_id: bob.user.id,
        payload: 'shape check',
        timestamp,
        stream_id: null,
        reply_to: null,
      });
      expect(await A2.waitFor(withPayload('shape check'))).toEqual(delivered);
      const stored = (await history(bob.token, alice.user.id)).find((e) => e.id === id);
      expect(stored).toEqual(delivered);
    });

    it('acks local_id null when the client sent none', async () => {
      const ack = await A1.send({ type: 'CHAT', target_id: bob.user.id, payload: 'no local id' });
      expect(ack).toEqual({ ok: true, id: expect.any(Number), local_id: null, timestamp: expect.stringMatching(ISO_MS) });
    });

    it('ignores id, sender_id, sender_name, sender_role and timestamp sent by the client', async () => {
      const before = Date.now();
      const ack = okAck(
        await A1.send({
          type: 'CHAT',
          target_id: bob.user.id,
          payload: 'forged fields',
          id: 999_999,
          sender_id: bob.user.id,
          sender_name: 'bob',
          sender_role: 'ADMIN',
          timestamp: '2001-01-01T00:00:00.000Z',
        }),
      );
      expect(ack.id).not.toBe(999_999);
      const got = await B.waitFor(withPayload('forged fields'));
      expect(got).toMatchObject({ id: ack.id, sender_id: alice.user.id, sender_name: 'alice', sender_role: 'MEMBER', timestamp: ack.timestamp });
      expect(Date.parse(got.timestamp)).toBeGreaterThanOrEqual(before - 1_000);
      expect(Date.parse(got.timestamp)).toBeLessThanOrEqual(Date.now() + 1_000);
      expect((await history(bob.token, alice.user.id)).find((e) => e.id === ack.id)).toEqual(got);
      // The forged id names no stored message.
      expect((await history(bob.token, alice.user.id)).some((e) => e.id === 999_999)).toBe(false);
    });

    it('keeps the payload JSON as sent (objects, arrays, numbers, booleans, null, unicode) and stores reply_to and stream_id', async () => {
      const payloads = [{ text: 'hi', n: [1, 2, { deep: true }] }, [1, 'two', null], 42.5, false, null, 'héllo 👋 \u0000 "quoted"'];
      const acks: { id?: number }[] = [];
      for (const payload of payloads) acks.push(okAck(await X.send({ type: 'CHAT', target_id: alice.user.id, payload, reply_to: 1, stream_id: 'st-9' })));
      const stored = await history(alice.token, bot.agent.id);
      for (const [i, payload] of payloads.entries()) {
        const live = await A1.waitFor((e) => e.id === acks[i].id);
        expect(live).toMatchObject({ payload, reply_to: 1, stream_id: 'st-9' });
        expect(stored.find((e) => e.id === acks[i].id)).toEqual(live);
      }
    });

    it('gives growing ids: one socket’s messages in send order, many sockets’ messages all distinct', async () => {
      // 30 sends from one socket without waiting: handled in order, acked in order, delivered in order.
      const sends = times(30, (i) => A1.send({ type: 'CHAT', target_id: bob.user.id, payload: `order ${i}` }));
      const ids = (await Promise.all(sends)).map((a) => okAck(a).id!);
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]);
      await B.waitFor(withPayload('order 29'));
      expect(B.received.filter((e) => String(e.payload).startsWith('order ')).map((e) => e.id)).toEqual(ids);

      // Four sockets at once: every id distinct and above everything before; each socket's own ids ascending.
      const floor = ids[ids.length - 1];
      const senders = [A1, A2, B, X];
      const batches = await Promise.all(
        senders.map((c, k) => Promise.all(times(15, (i) => c.send({ type: 'CHAT', target_id: k === 2 ? alice.user.id : bob.user.id, payload: `par ${k}.${i}` })))),
      );
      const all: number[] = [];
      for (const batch of batches) {
        const mine = batch.map((a) => okAck(a).id!);
        for (let i = 1; i < mine.length; i++) expect(mine[i]).toBeGreaterThan(mine[i - 1]);
        all.push(...mine);
      }
      expect(new Set(all).size).toBe(60);
      expect(Math.min(...all)).toBeGreaterThan(floor);
    });

    it('refuses with exactly {ok:false, error, code} and keeps the socket connected', async () => {
      const ack = await A1.send({ type: 'NOPE' });
      expect(Object.keys(ack).sort()).toEqual(['code', 'error', 'ok']);
      expectRefused(ack, 'VALIDATION_ERROR');
      expect(A1.socket.connected).toBe(true);
    });
  });

  describe('envelope validation', () => {
    it.each<[string, unknown]>([
      ['an unknown type', { type: 'SHOUT', target_id: 1, payload: 'x' }],
      ['a lowercase type', { type: 'chat', target_id: 1, payload: 'x' }],
      ['a missing type', { target_id: 1, payload: 'x' }],
      ['a CHAT without payload', { type: 'CHAT', target_id: 1 }],
      ['a string target_id', { type: 'CHAT', target_id: '1', payload: 'x' }],
      ['a negative target_id', { type: 'CHAT', target_id: -1, payload: 'x' }],
      ['a fractional target_id', { type: 'CHAT', target_id: 1.5, payload: 'x' }],
      ['a target_id beyond 2^53', { type: 'CHAT', target_id: 2 ** 60, payload: 'x' }],
      ['an empty local_id', { type: 'CHAT', target_id: 1, payload: 'x', local_id: '' }],
      ['a numeric local_id', { type: 'CHAT', target_id: 1, payload: 'x', local_id: 12 }],
      ['a local_id of 65 characters', { type: 'CHAT', target_id: 1, payload: 'x', local_id: 'l'.repeat(65) }],
      ['a numeric stream_id', { type: 'CHAT', target_id: 1, payload: 'x', stream_id: 7 }],
      ['a negative reply_to', { type: 'CHAT', target_id: 1, payload: 'x', reply_to: -3 }],
      ['a string reply_to', { type: 'CHAT', target_id: 1, payload: 'x', reply_to: '3' }],
      ['a reply_to no message id can reach (2^31)', { type: 'CHAT', target_id: 1, payload: 'x', reply_to: 2 ** 31 }],
      ['a string', 'CHAT'],
      ['an array', [{ type: 'CHAT', target_id: 1, payload: 'x' }]],
      ['null', null],
      ['a number', 7],
    ])('refuses %s with VALIDATION_ERROR; nothing is stored or delivered', async (_what, envelope) => {
      const before = await rowCounts(s.app);
      const target = envelope && typeof envelope === 'object' && !Array.isArray(envelope) && (envelope as { target_id?: unknown }).target_id === 1 ? { ...envelope, target_id: bob.user.id } : envelope;
      expectRefused(await A1.send(target), 'VALIDATION_ERROR');
      await expectNoneOf([A2, B, X], () => true, 100);
      expect(await rowCounts(s.app)).toEqual(before);
      expect(A1.socket.connected).toBe(true);
    });

    it('accepts a local_id of exactly 64 characters', async () => {
      const local_id = 'k'.repeat(64);
      expect(await A1.send({ type: 'CHAT', target_id: bob.user.id, payload: '64', local_id })).toMatchObject({ ok: true, local_id });
    });

    it.each([2 ** 31, 2 ** 31 - 1, Number.MAX_SAFE_INTEGER])('answers NOT_FOUND for a target id no user has (%d), on every database', async (target_id) => {
      const before = await rowCounts(s.app);
      expectRefused(await A1.send({ type: 'CHAT', target_id, payload: 'far away' }), 'NOT_FOUND');
      expectRefused(await X.send({ type: 'CHAT_STREAM', target_id, stream_id: 'far', payload: 'far away' }), 'NOT_FOUND');
      expect(await rowCounts(s.app)).toEqual(before);
    });
  });

  describe(`MAX_PAYLOAD_BYTES=${MAX}`, () => {
    // `"` + n characters + `"`: the JSON text of a string of n ASCII characters is n + 2 bytes.
    it('accepts a payload whose JSON text is exactly the limit', async () => {
      const payload = 'a'.repeat(MAX - 2);
      const ack = okAck(await A1.send({ type: 'CHAT', target_id: bob.user.id, payload }));
      expect((await B.waitFor((e) => e.id === ack.id)).payload).toBe(payload);
    });

    it('refuses one byte more, measured in UTF-8, with PAYLOAD_TOO_LARGE; the socket stays connected and usable', async () => {
      const before = await rowCounts(s.app);
      const tooLarge: unknown[] = [
        'a'.repeat(MAX - 1),
        // 512 × 2 bytes + 2 quotes = 1026 bytes, though only 514 UTF-16 units.
        'é'.repeat(512),
        { text: 'a'.repeat(MAX) },
        'z'.repeat(500_000),
      ];
      for (const payload of tooLarge) {
        expectRefused(await A1.send({ type: 'CHAT', target_id: bob.user.id, payload }), 'PAYLOAD_TOO_LARGE');
        expectRefused(await X.send({ type: 'CHAT', target_id: alice.user.id, payload }), 'PAYLOAD_TOO_LARGE');
        expectRefused(await X.send({ type: 'CHAT_STREAM', target_id: alice.user.id, stream_id: 'big', payload }), 'PAYLOAD_TOO_LARGE');
      }
      expectRefused(await X.send({ type: 'SYSTEM_LOG', payload: { level: 'INFO', content: 'c'.repeat(MAX) } }), 'PAYLOAD_TOO_LARGE');
      expect(A1.socket.connected && X.socket.connected).toBe(true);
      await expectNoneOf([A1, A2, B, X], () => true);
      expect(await rowCounts(s.app)).toEqual(before);
      okAck(await A1.send({ type: 'CHAT', target_id: bob.user.id, payload: 'still here' }));
      await B.waitFor(withPayload('still here'));
    });

    it('accepts a multi-byte payload right at the limit', async () => {
      const payload = 'é'.repeat((MAX - 2) / 2);
      expect(Buffer.byteLength(JSON.stringify(payload))).toBe(MAX);
      const ack = okAck(await A1.send({ type: 'CHAT', target_id: bob.user.id, payload }));
      expect((await B.waitFor((e) => e.id === ack.id)).payload).toBe(payload);
    });
  });
});
