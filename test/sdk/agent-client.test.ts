/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The agent SDK against the real server (SQLite, real sockets): answering directives, sends made
 * while disconnected, a rotated token, a handler that throws, and the cursor across processes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'socket.io';
import { AgentAuthError, FileCursorStore, type AgentClient } from '../../src/sdk';
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, dbKinds, eventually, sleep, startTestApp, storedMessages, type TestApp, warnIfPostgresSkipped } from '../support';
import { agentFor, approve, closeAgents, flow, outcome, request, statusesOf, tempDir } from './sdk-helpers';

warnIfPostgresSkipped('sdk');

/** Records what every `/agents` socket sends to the server, as the server received it. */
function recordIncoming(s: TestApp): Envelope[] {
  const seen: Envelope[] = [];
  s.app.hub.io.of('/agents').on('connection', (socket: Socket) => socket.onAny((event, data) => event === 'message' && seen.push(data)));
  return seen;
}

/** Disconnects every `/agents` socket of this agent from the server side. */
function kick(s: TestApp, agentId: number): void {
  for (const socket of s.app.hub.io.of('/agents').sockets.values()) if ((socket.data as any).user.id === agentId) socket.disconnect(true);
}

describe.each(dbKinds())('the agent SDK against the server on %s', (kind) => {
  let s: TestApp;
  let incoming: Envelope[];
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    incoming = recordIncoming(s);
  });
  afterEach(async () => {
    await closeAgents();
    closeAll();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('onDirective: the returned value becomes the answer (reply_to = the directive) and completes the action', async () => {
    const f = await flow(s);
    const agent = agentFor(s, f.token).onDirective((d) => `did ${d.command}`);
    await agent.ready();
    const actionId = await request(f, 'sweep the floor');
    await approve(f, actionId);
    expect(await outcome(f, actionId)).toEqual({ status: 'COMPLETED', result: 'did sweep the floor' });
    expect(statusesOf(f, actionId)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    const directive = (await storedMessages(s.app)).find((m) => m.localId === actionId)!;
    const answers = (await storedMessages(s.app)).filter((m) => m.senderId === f.agentId);
    expect(answers.map((m) => ({ to: m.targetId, replyTo: m.replyTo, payload: JSON.parse(m.payload) }))).toEqual([
      { to: f.butler, replyTo: directive.id, payload: 'did sweep the floor' },
    ]);
    expect(agent.agentId).toBe(f.agentId);
  });

  it('a send made while disconnected is stored exactly once after the SDK reconnects by itself', async () => {
    const f = await flow(s);
    const agent = agentFor(s, f.token, { backoff: { minMs: 300, maxMs: 300 } });
    await agent.ready();
    const states: string[] = [];
    agent.on('disconnected', () => states.push('disconnected'));
    agent.on('connected', () => states.push('connected'));
    const away = new Promise<Promise<unknown>>((resolve) => agent.once('disconnected', () => resolve(agent.chat(f.requesterId, 'sent while away'))));
    kick(s, f.agentId);
    const sent = (await (await away)) as { id: number };
    expect(states).toEqual(['disconnected', 'connected']);
    const got = await f.requester.waitFor((e) => e.payload === 'sent while away');
    expect(got.id).toBe(sent.id);
    await sleep(300);
    expect(f.requester.received.filter((e) => e.payload === 'sent while away')).toHaveLength(1);
    expect((await storedMessages(s.app)).filter((m) => m.payload === JSON.stringify('sent while away'))).toHaveLength(1);
  });

  it('a handshake refused as UNAVAILABLE (transient) is retried with backoff until it is accepted', async () => {
    const f = await flow(s);
    let refusals = 0;
    // After the real handshake has identified the agent: refuse this agent's first two attempts.
    s.app.hub.io.of('/agents').use((socket, next) => {
      if ((socket.data as any).user?.id !== f.agentId || refusals >= 2) return next();
      refusals++;
      next(Object.assign(new Error('unavailable'), { data: { code: 'UNAVAILABLE' } }));
    });
    const agent = agentFor(s, f.token);
    const reasons: string[] = [];
    agent.on('disconnected', ({ reason }) => reasons.push(reason));
    await agent.ready();
    expect(refusals).toBe(2);
    expect(reasons).toEqual(['unavailable (UNAVAILABLE)', 'unavailable (UNAVAILABLE)']);
    expect(agent.state).toBe('connected');
  });

  it('a rotated token ends reconnection with an AgentAuthError; a token function supplies the new one', async () => {
    const f = await flow(s);
    const fixed = agentFor(s, f.token);
    let current = f.token;
    let asked = 0;
    const fresh = agentFor(s, () => (asked++, current));
    await Promise.all([fixed.ready(), fresh.ready()]);
    const rotated = await s.api.patch(`/api/users/agents/${f.agentId}/token`, undefined, s.adminToken);
    expect(rotated.status).toBe(200);
    current = rotated.body.api_token;

    const error = await fixed.waitClosed();
    expect(error).toBeInstanceOf(AgentAuthError);
    expect(error!.code).toBe('UNAUTHORIZED');
    expect(fixed.state).toBe('closed');
    await expect(fixed.status('idle')).rejects.toBe(error);

    // The other client asked its function again and is back with the new token.
    await eventually(() => fresh.state === 'connected' && asked >= 2);
    await fresh.status('rotated', 'new token works');
    const view = await s.api.get(`/api/users/${f.agentId}`, s.adminToken);
    expect(view.body).toMatchObject({ status: 'rotated', last_report: 'new token works' });
  });

  it('a handler that throws after streaming still ends its stream, and answers with the error text', async () => {
    const f = await flow(s);
    const agent = agentFor(s, f.token).onDirective((_d, ctx) => {
      ctx.write('checking the disk… ');
      throw new Error('disk on fire');
    });
    await agent.ready();
    const actionId = await request(f, 'check the disk');
    await approve(f, actionId);
    const result = (await outcome(f, actionId)).result;
    expect(result).toContain('disk on fire');

    const directive = (await storedMessages(s.app)).find((m) => m.localId === actionId)!;
    const mine = incoming.filter((e) => e.reply_to === directive.id);
    expect(mine.map((e) => e.type)).toEqual(['CHAT_STREAM', 'CHAT', 'CHAT_STREAM_END']);
    expect(new Set(mine.map((e) => e.stream_id)).size).toBe(1);
    expect(mine[0].stream_id).toEqual(expect.any(String));
    expect(mine[1].payload).toBe('[ERROR] disk on fire');
  });

  it('a streamed answer: chunks, then the whole text as one CHAT with the same stream_id, then the end', async () => {
    const f = await flow(s);
    const agent = agentFor(s, f.token).onDirective(async (d, ctx) => {
      for (const w of ['one ', 'two ', 'three']) ctx.write(w);
    });
    await agent.ready();
    const actionId = await request(f, 'count');
    await approve(f, actionId);
    expect(await outcome(f, actionId)).toEqual({ status: 'COMPLETED', result: 'one two three' });
    const directive = (await storedMessages(s.app)).find((m) => m.localId === actionId)!;
    const mine = incoming.filter((e) => e.reply_to === directive.id);
    expect(mine.map((e) => [e.type, e.payload])).toEqual([
      ['CHAT_STREAM', 'one '],
      ['CHAT_STREAM', 'two '],
      ['CHAT_STREAM', 'three'],
      ['CHAT', 'one two three'],
      ['CHAT_STREAM_END', null],
    ]);
  });

  it('a new process with the same cursor file resumes with last_id: missed chats once, handled ones and own answers never', async () => {
    const f = await flow(s);
    const dir = tempDir();
    const file = join(dir.path, 'cursor.json');
    try {
      const seen1: unknown[] = [];
      const first = agentFor(s, f.token, { cursor: file }).onMessage((e) => seen1.push(e.payload)).onDirective((d) => `ok ${d.command}`);
      await first.ready();
      await f.requester.send({ type: 'CHAT', target_id: f.agentId, payload: 'hello 1' });
      const actionId = await request(f, 'first job');
      await approve(f, actionId);
      expect((await outcome(f, actionId)).status).toBe('COMPLETED');
      await eventually(() => seen1.length === 1);
      await first.close();
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      expect(saved).toMatchObject({ lastId: expect.any(Number), answered: [actionId], agentId: f.agentId });

      // While no process runs: a chat arrives.
      await f.requester.send({ type: 'CHAT', target_id: f.agentId, payload: 'hello 2' });
      const seen2: unknown[] = [];
      const ran: string[] = [];
      const second = agentFor(s, f.token, { cursor: file }).onMessage((e) => seen2.push(e.payload)).onDirective((d) => (ran.push(d.command), 'again'));
      await second.ready();
      await sleep(300);
      expect(seen2).toEqual(['hello 2']);
      expect(ran).toEqual([]);
    } finally {
      dir.remove();
    }
  });

  it('a cursor whose last_id is behind an answered directive never hands that directive to the handler again', async () => {
    const f = await flow(s);
    const dir = tempDir();
    const file = join(dir.path, 'cursor.json');
    try {
      const first = agentFor(s, f.token, { cursor: file }).onDirective(() => 'once');
      await first.ready();
      const actionId = await request(f, 'only once');
      await approve(f, actionId);
      expect((await outcome(f, actionId)).status).toBe('COMPLETED');
      await first.close();
      // As if the process died after the answer was acked and recorded, before last_id moved on.
      const saved = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, JSON.stringify({ ...saved, lastId: 0 }));

      const ran: string[] = [];
      const second = agentFor(s, f.token, { cursor: new FileCursorStore(file) }).onDirective((d) => (ran.push(d.command), 'twice'));
      const replayed = new Promise((resolve) => second.once('replayed', resolve));
      await second.ready();
      expect(await replayed).toEqual({ lastId: expect.any(Number) });
      await sleep(300);
      expect(ran).toEqual([]);
      expect(second.lastId).toBeGreaterThan(0);
    } finally {
      dir.remove();
    }
  });

  it('close() drains: a send queued just before close is acknowledged and stored', async () => {
    const f = await flow(s);
    const agent: AgentClient = agentFor(s, f.token);
    await agent.ready();
    const sent = agent.chat(f.requesterId, 'last words');
    await agent.close();
    expect(agent.state).toBe('closed');
    await expect(sent).resolves.toMatchObject({ ok: true, id: expect.any(Number) });
    expect((await storedMessages(s.app)).filter((m) => m.payload === JSON.stringify('last words'))).toHaveLength(1);
  });
});
