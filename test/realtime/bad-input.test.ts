import type { Ack } from '../../src/shared/protocol';
import { closeAll, createAgent, createHuman, dbKinds, okAck, open, openWith, rowCounts, sleep, startTestApp, storedMessages, type TestApp, type TestClient, times, warnIfPostgresSkipped, withPayload } from '../support';

/** Values that are wrong wherever an id, a type or a string is expected. */
const JUNK: unknown[] = [
  null,
  true,
  false,
  -1,
  -0.5,
  1.5,
  2 ** 53,
  1e300,
  -1e300,
  '',
  ' ',
  '1',
  '-1',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '0x10',
  ' 5',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  {},
  [],
  [1],
  [[[]]],
  { a: 1 },
  { toString: 'x', valueOf: 1 },
  { $gt: 0 },
  Buffer.from('binary'),
  'x'.repeat(10_000),
];
const TYPES = ['CHAT', 'CHAT_STREAM', 'CHAT_STREAM_END', 'SYSTEM_LOG', 'AGENT_STATUS', 'PRESENCE', 'AUTH_REQUEST', 'AUTH_RESPONSE', 'AUTH_STATUS_UPDATE', 'BUTLER_AGENT_MESSAGE'];
const NOT_TYPES = ['chat', 'Chat', 'CHAT ', ' CHAT', 'CHAT\u0000', 'MESSAGE', 'HELLO', 'SYSTEM', 'toString', 'hasOwnProperty', '__proto__', 'constructor', 'PING'];
const REFUSAL_CODES = ['VALIDATION_ERROR', 'FORBIDDEN', 'NOT_FOUND'];

function nested(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

/** Hundreds of malformed `message` frames a member might send; none of them may be accepted. */
function memberFrames(target: number): unknown[] {
  const frames: unknown[] = [...JUNK, undefined, 0, 42, 'CHAT', 'message', [{ type: 'CHAT', target_id: target, payload: 'in an array' }]];
  for (const type of JUNK) frames.push({ type, target_id: target, payload: 'bad type' });
  for (const type of NOT_TYPES) frames.push({ type, target_id: target, payload: 'unknown type' });
  frames.push({ target_id: target, payload: 'no type' }, { TYPE: 'CHAT', target_id: target, payload: 'wrong key' });
  for (const target_id of JUNK) if (target_id !== null) frames.push({ type: 'CHAT', target_id, payload: 'bad target' });
  for (const target_id of [0, null, undefined, -5, 2 ** 31, 2 ** 53 - 1, 999_999]) frames.push({ type: 'CHAT', target_id, payload: 'member broadcast or nobody' });
  for (const local_id of JUNK) if (local_id !== null && !(typeof local_id === 'string' && local_id.length > 0 && local_id.length <= 64)) frames.push({ type: 'CHAT', target_id: target, payload: 'bad local_id', local_id });
  frames.push({ type: 'CHAT', target_id: target, payload: 'long local_id', local_id: 'l'.repeat(65) });
  for (const stream_id of JUNK) if (stream_id !== null && !(typeof stream_id === 'string' && stream_id.length > 0 && stream_id.length <= 128)) frames.push({ type: 'CHAT', target_id: target, payload: 'bad stream_id', stream_id });
  for (const reply_to of [...JUNK, 0, 2 ** 31]) if (reply_to !== null) frames.push({ type: 'CHAT', target_id: target, payload: 'bad reply_to', reply_to });
  frames.push({ type: 'CHAT', target_id: target }, { type: 'CHAT', target_id: target, payload: undefined });
  for (const type of TYPES.filter((t) => t !== 'CHAT' && t !== 'AUTH_RESPONSE')) {
    for (const payload of [undefined, null, 'text', { level: 'INFO', content: 'x' }, { status: 'busy' }, nested(50)]) frames.push({ type, target_id: target, stream_id: 's', payload });
  }
  for (const payload of [undefined, null, 'yes', { action_id: 5, approved: true }, { action_id: 'a', approved: 'yes' }, { approved: true }, { action_id: '', approved: false }]) frames.push({ type: 'AUTH_RESPONSE', payload });
  frames.push({ type: 'CHAT', target_id: nested(200), payload: 'deep target' }, { type: nested(300), payload: nested(300) }, nested(500));
  frames.push({ type: 'CHAT', target_id: target, payload: 'z'.repeat(70_000) });
  return frames;
}

/** Malformed frames an agent might send (agent-only types with bad payloads, and its own junk). */
function agentFrames(target: number): unknown[] {
  const frames: unknown[] = [...JUNK];
  for (const payload of [undefined, null, 'text', {}, { level: 'LOUD', content: 'x' }, { level: 'INFO' }, { level: 'INFO', content: '' }, { level: 'INFO', content: 5 }, { level: ['INFO'], content: 'x' }, [{ level: 'INFO', content: 'x' }]]) {
    frames.push({ type: 'SYSTEM_LOG', payload });
  }
  for (const payload of [undefined, null, 'busy', {}, { status: '' }, { status: 5 }, { status: 's'.repeat(33) }, { status: 'ok', report: 'r'.repeat(1001) }, { status: 'ok', report: 7 }, { status: ['busy'] }]) {
    frames.push({ type: 'AGENT_STATUS', payload });
  }
  for (const type of ['CHAT_STREAM', 'CHAT_STREAM_END']) {
    frames.push({ type, target_id: target, payload: 'no stream id' }, { type, target_id: target, stream_id: '', payload: 'x' }, { type, target_id: target, stream_id: 5, payload: 'x' }, { type, stream_id: 's', payload: 'agent broadcast' });
    frames.push({ type, target_id: 999_999, stream_id: 's', payload: 'nobody' }, { type, target_id: 'x', stream_id: 's', payload: 'x' });
  }
  frames.push({ type: 'AUTH_RESPONSE', payload: { action_id: 'a', approved: true } }, { type: 'CHAT', payload: 'agent broadcast' }, { type: 'CHAT', target_id: 0, payload: 'agent broadcast' });
  return frames;
}

describe.each(dbKinds())('bad input on the message event on %s', (kind) => {
  let s: TestApp;
  let mallory: { user: { id: number }; token: string };
  let malbot: { agent: { id: number }; token: string };
  let bob: { user: { id: number }; token: string };
  let bot: { agent: { id: number }; token: string };

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/bad-input');
    // A generous limit, so that every frame reaches validation instead of the rate limiter.
    s = await startTestApp({ db: kind, env: { SOCKET_RATE_LIMIT: '100000/s,100000' } });
    mallory = await createHuman(s.api, s.adminToken, 'mallory');
    malbot = await createAgent(s.api, s.adminToken, 'malbot');
    bob = await createHuman(s.api, s.adminToken, 'bob');
    bot = await createAgent(s.api, s.adminToken, 'goodbot');
  });
  afterEach(() => closeAll());
  afterAll(() => s?.close());

  /** bob and goodbot talk while the storm runs; returns their acked ids once done. */
  async function honestTraffic(b: TestClient, x: TestClient, rounds: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < rounds; i++) {
      ids.push(okAck(await b.send({ type: 'CHAT', target_id: bot.agent.id, payload: `honest b ${i}` })).id!);
      ids.push(okAck(await x.send({ type: 'CHAT', target_id: bob.user.id, payload: `honest x ${i}` })).id!);
    }
    return ids;
  }

  it('refuses hundreds of malformed frames; the process, the socket and other clients carry on; nothing is stored', async () => {
    const [m, mx, b, x] = await Promise.all([
      openWith(s.url, 'chat', mallory.token),
      openWith(s.url, 'agents', malbot.token),
      openWith(s.url, 'chat', bob.token),
      openWith(s.url, 'agents', bot.token),
    ]);
    const before = await rowCounts(s.app);
    const malbotBefore = ((await s.api.get('/api/users/agents/status?limit=200', bob.token)).body as { id: number }[]).find((a) => a.id === malbot.agent.id);

    const mFrames = memberFrames(bob.user.id);
    const xFrames = agentFrames(bob.user.id);
    expect(mFrames.length + xFrames.length).toBeGreaterThanOrEqual(300);

    const honest = honestTraffic(b, x, 25);
    const acked: Promise<Ack>[] = [];
    for (let pass = 0; pass < 2; pass++) {
      for (const f of mFrames) acked.push(m.send(f));
      for (const f of xFrames) acked.push(mx.send(f));
      // The same frames without an ack callback, with extra arguments, and on other event names.
      for (const f of mFrames) m.socket.emit('message', f);
      for (const f of xFrames) mx.socket.emit('message', f);
      for (const f of mFrames.slice(0, 40)) m.socket.emit('message', f, 'extra', 42, () => undefined);
      m.socket.emit('message');
      m.socket.emit('message', () => undefined);
      for (const ev of ['chat', 'CHAT', 'messages', 'Message', 'message ', 'replay:done', 'auth', 'join', 'leave', 'error', 'ping', 'toString', '__proto__']) {
        m.socket.emit(ev, { type: 'CHAT', target_id: bob.user.id, payload: `via ${ev}` });
        m.socket.emit(ev, { type: 'CHAT', target_id: bob.user.id, payload: `via ${ev} with ack` }, () => undefined);
        mx.socket.emit(ev, { type: 'CHAT', target_id: bob.user.id, payload: `agent via ${ev}` });
      }
      await sleep(10);
    }
    const acks = await Promise.all(acked);
    const honestIds = await honest;

    // Every acked frame was refused with a client-error code, never a server fault.
    const unexpected = acks.map((a, i) => ({ a, i })).filter(({ a }) => a.ok || !REFUSAL_CODES.includes(a.code) && a.code !== 'PAYLOAD_TOO_LARGE');
    expect(unexpected).toEqual([]);
    for (const a of acks) if (!a.ok) expect(a.error.length).toBeGreaterThan(0);

    // The sockets are still connected and usable; the process answers.
    expect([m, mx, b, x].map((c) => c.socket.connected)).toEqual([true, true, true, true]);
    expect((await s.api.get('/api/ping')).status).toBe(200);
    const after = okAck(await m.send({ type: 'CHAT', target_id: bob.user.id, payload: 'mallory behaves now' }));
    expect((await b.waitFor(withPayload('mallory behaves now'))).id).toBe(after.id);
    expect(await mx.send({ type: 'AGENT_STATUS', payload: { status: 'calm', report: null } })).toEqual({ ok: true });

    // Other clients' traffic was unaffected: all of it delivered once, in order.
    await x.waitFor(withPayload('honest b 24'));
    await b.waitFor(withPayload('honest x 24'));
    expect(x.received.filter((e) => String(e.payload).startsWith('honest b')).map((e) => e.payload)).toEqual(times(25, (i) => `honest b ${i}`));
    expect(b.received.filter((e) => String(e.payload).startsWith('honest x')).map((e) => e.payload)).toEqual(times(25, (i) => `honest x ${i}`));
    // Nothing of the storm reached anybody.
    for (const c of [b, x]) expect(c.received.filter((e) => e.sender_id === mallory.user.id || e.sender_id === malbot.agent.id).map((e) => e.payload)).toEqual(c === b ? ['mallory behaves now'] : []);

    // Nothing of the storm was stored: only the honest messages and mallory's last one.
    expect(await rowCounts(s.app)).toEqual({ chat: before.chat + honestIds.length + 1, logs: before.logs });
    const stored = (await storedMessages(s.app)).filter((r) => r.senderId === mallory.user.id || r.senderId === malbot.agent.id);
    expect(stored.map((r) => r.id)).toEqual([after.id]);
    expect(malbotBefore).toMatchObject({ status: null, last_report: null });
    const malbotAfter = ((await s.api.get('/api/users/agents/status?limit=200', bob.token)).body as { id: number }[]).find((a) => a.id === malbot.agent.id);
    expect(malbotAfter).toMatchObject({ status: 'calm' });

    // No prototype was polluted in this process (the server runs in it).
    expect(({} as Record<string, unknown>).type).toBeUndefined();
    expect(({} as Record<string, unknown>).target_id).toBeUndefined();
  });

  it('a frame that breaks the Socket.IO protocol itself ends only that connection; everyone else carries on', async () => {
    const [b, x] = await Promise.all([openWith(s.url, 'chat', bob.token), openWith(s.url, 'agents', bot.token)]);
    const raws = [
      'garbage',
      '4',
      '42',
      '42[',
      '42{}',
      '42[]',
      '42["disconnect"]',
      '42["newListener","message"]',
      '42[null]',
      '4/other,["message",{}]',
      `42["message",${'['.repeat(20_000)}${']'.repeat(20_000)}]`,
      '43999["not an ack we asked for"]',
      '9',
    ];
    for (const raw of raws) {
      const victim = await open(s.url, 'chat', { auth: { token: mallory.token } });
      (victim.socket.io.engine as unknown as { write(msg: string): void }).write(raw);
      // Either socket.io drops the connection (a parse error) or it ignores the frame; both are fine.
      await Promise.race([victim.disconnected(2_000).catch(() => undefined), sleep(150)]);
      victim.close();
    }
    expect((await s.api.get('/api/ping')).status).toBe(200);
    expect([b.socket.connected, x.socket.connected]).toEqual([true, true]);
    okAck(await b.send({ type: 'CHAT', target_id: bot.agent.id, payload: 'after raw junk' }));
    await x.waitFor(withPayload('after raw junk'));
    const fresh = await openWith(s.url, 'chat', mallory.token);
    okAck(await fresh.send({ type: 'CHAT', target_id: bob.user.id, payload: 'new connection works' }));
    await b.waitFor(withPayload('new connection works'));
  });

  it('refuses text a database cannot keep as sent (NUL, lone surrogates) with VALIDATION_ERROR, without failing anyone else’s commit', async () => {
    const [m, mx, b, ...honestSockets] = await Promise.all([
      openWith(s.url, 'chat', mallory.token),
      openWith(s.url, 'agents', malbot.token),
      openWith(s.url, 'chat', bob.token),
      openWith(s.url, 'chat', bob.token),
      openWith(s.url, 'chat', bob.token),
      openWith(s.url, 'agents', bot.token),
    ]);
    const before = await rowCounts(s.app);
    const bad = ['nul\u0000byte', '\u0000', 'lone \ud800 surrogate', '\udc00'];
    const fine = ['tab\there', 'ctrl\u0001\u001f', 'emoji 👋', 'ünïcödé'];
    const send = (text: string, i: number) => [
      m.send({ type: 'CHAT', target_id: bob.user.id, payload: 'odd local_id', local_id: `${text}-${i}` }),
      m.send({ type: 'CHAT', target_id: bob.user.id, payload: 'odd stream_id', stream_id: text }),
      mx.send({ type: 'SYSTEM_LOG', payload: { level: 'INFO', content: text } }),
      mx.send({ type: 'AGENT_STATUS', payload: { status: text.slice(0, 32), report: text } }),
    ];
    // Honest senders on other sockets write at the same moment, so that they share commit groups.
    const honest = Promise.all(honestSockets.flatMap((c, k) => times(10, (i) => c.send({ type: 'CHAT', target_id: k === 2 ? bob.user.id : bot.agent.id, payload: `steady ${k}.${i}` }))));
    const refused = await Promise.all(bad.flatMap(send));
    const accepted = await Promise.all(fine.flatMap(send));
    expect((await honest).filter((a) => !a.ok)).toEqual([]);
    for (const a of refused) expect(a).toEqual({ ok: false, error: expect.stringMatching(/NUL|surrogate/), code: 'VALIDATION_ERROR' });
    for (const a of accepted) expect(a.ok).toBe(true);
    // The payload's JSON text escapes such characters, so there they are fine and come back unchanged.
    const inPayload = okAck(await m.send({ type: 'CHAT', target_id: bob.user.id, payload: 'nul\u0000 and \ud800 inside' }));
    expect((await b.waitFor((e) => e.id === inPayload.id)).payload).toBe('nul\u0000 and \ud800 inside');
    const history = (await s.api.get(`/api/chat/history/${mallory.user.id}?limit=200`, bob.token)).body as { id: number; payload: unknown }[];
    expect(history.find((e) => e.id === inPayload.id)?.payload).toBe('nul\u0000 and \ud800 inside');
    // Stored: the honest 30, the accepted odd CHATs (2 per text) and the payload one; logs: the accepted ones.
    expect(await rowCounts(s.app)).toEqual({ chat: before.chat + 30 + fine.length * 2 + 1, logs: before.logs + fine.length });
    expect(m.socket.connected && mx.socket.connected).toBe(true);
  });

  it('POST /api/messages refuses content with NUL or lone surrogates with 400 VALIDATION_ERROR', async () => {
    for (const content of ['nul\u0000byte', 'lone \ud800']) {
      const res = await s.api.post('/api/messages', { level: 'INFO', content }, s.adminToken);
      expect({ status: res.status, code: res.body?.code }).toEqual({ status: 400, code: 'VALIDATION_ERROR' });
    }
  });
});
