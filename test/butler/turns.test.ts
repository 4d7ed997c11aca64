/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Butler turns with the real LlmBrain against a fake OpenAI-compatible server (PROTOCOL §6): the
 * streamed shape of a turn, failures that still end the stream, tool calls, and the scheduling of
 * turns (one user serialized, different users concurrent, agents never).
 */
import { butlerId, closeAll, connect, createAgent, createHuman, dbKinds, expectNothing, type FakeLlm, lastUserText, sleep, startFakeLlm, startTestApp, type TestApp, type TestClient, uniqueName, warnIfPostgresSkipped, words } from '../support';
import { isAuth, joined, say, seenTurn, timeline, turn } from './butler-helpers';

warnIfPostgresSkipped('butler turns');

describe.each(dbKinds())('Butler turns with a model on %s', (kind) => {
  let fake: FakeLlm;
  let s: TestApp;
  let butler: number;

  beforeAll(async () => {
    fake = await startFakeLlm();
    s = await startTestApp({ db: kind, env: fake.env({ BUTLER_TURN_TIMEOUT: '1s' }) });
    butler = await butlerId(s);
  });
  afterEach(() => {
    closeAll();
    fake.reset();
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
    await fake?.close();
  });

  async function member(): Promise<{ user: any; token: string; c: TestClient }> {
    const m = await createHuman(s.api, s.adminToken, uniqueName('m'));
    return { ...m, c: await connect(s.url, 'chat', { token: m.token }) };
  }

  it('GET /api/users/butler reports mode "llm" when a model is configured', async () => {
    const res = await s.api.get('/api/users/butler', s.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: butler, role: 'BUTLER', mode: 'llm' });
  });

  it('streams a full turn: chunks add up to the one stored CHAT, same stream_id and reply_to, then CHAT_STREAM_END', async () => {
    const m = await member();
    const tab2 = await connect(s.url, 'chat', { token: m.token });
    const other = await member();
    const admin = await connect(s.url, 'chat', { token: s.adminToken });
    fake.enqueue({ kind: 'text', chunks: ['Hello', ' there', ', ', 'friend', '!'] });

    const t = await turn(m.c, butler, 'hi butler');

    expect(t.chunks.map((c) => c.payload)).toEqual(['Hello', ' there', ', ', 'friend', '!']);
    expect(t.final.payload).toBe('Hello there, friend!');
    expect(joined(t)).toBe(t.final.payload);
    const streamId = t.final.stream_id;
    expect(streamId).toEqual(expect.any(String));
    for (const e of [...t.chunks, t.end]) {
      expect(e).toMatchObject({ stream_id: streamId, reply_to: t.id, sender_id: butler, sender_role: 'BUTLER', target_id: m.user.id });
      expect(e.id).toBeUndefined(); // chunks are never stored
    }
    expect(t.final).toMatchObject({ id: expect.any(Number), reply_to: t.id, sender_id: butler, sender_role: 'BUTLER', target_id: m.user.id });
    expect(t.end.payload ?? null).toBeNull();
    // Order on the wire: every chunk, then the CHAT, then the end.
    const at = (e: object) => m.c.received.indexOf(e as any);
    expect(Math.max(...t.chunks.map(at))).toBeLessThan(at(t.final));
    expect(at(t.final)).toBeLessThan(t.endAt);

    // The user's other tab sees the same turn; nobody else sees anything of it.
    const t2 = await seenTurn(tab2, t.id);
    expect(t2.final.id).toBe(t.final.id);
    expect(joined(t2)).toBe(t.final.payload);
    await expectNothing(other.c, (e) => e.sender_id === butler || e.reply_to === t.id, 100);
    await expectNothing(admin, (e) => e.sender_id === butler || e.reply_to === t.id, 0);

    // Stored once, as a CHAT, and readable from the history; the chunks are not.
    const history = await s.api.get(`/api/chat/history/${butler}`, m.token);
    expect(history.status).toBe(200);
    const fromButler = history.body.filter((h: any) => h.sender_id === butler && h.type === 'CHAT');
    expect(fromButler).toEqual([expect.objectContaining({ id: t.final.id, payload: 'Hello there, friend!', stream_id: streamId, reply_to: t.id })]);
    expect(history.body.some((h: any) => h.type === 'CHAT_STREAM' || h.type === 'CHAT_STREAM_END')).toBe(false);

    // What the model was asked: our key, our model, streaming, the tools, the user's words.
    expect(fake.streamed).toHaveLength(1);
    const req = fake.streamed[0];
    expect(req.headers.authorization).toBe('Bearer test-key');
    expect(req.body.model).toBe('fake');
    expect(req.body.stream).toBe(true);
    expect(req.body.messages[0].role).toBe('system');
    expect(lastUserText(req)).toBe('hi butler');
    expect((req.body.tools ?? []).map((x) => x.function.name).sort()).toEqual(['get_agent_status', 'list_agents', 'request_agent_action']);
  });

  it('says what went wrong when the model fails mid-stream, and still ends the stream', async () => {
    const m = await member();
    fake.enqueue({ kind: 'fail-mid-stream', chunks: ['Let me ', 'check th'] });

    const t = await turn(m.c, butler, 'tell me something');

    expect(joined(t)).toBe('Let me check th');
    const text = t.final.payload as string;
    expect(text.startsWith('Let me check th')).toBe(true);
    expect(text).toBe('Let me check th\n\nSorry, I could not finish this answer: the connection to the language model broke off.');
    expect(t.end.stream_id).toBe(t.final.stream_id);
    expect(t.endAt).toBeGreaterThan(m.c.received.indexOf(t.final));
  });

  it('says the model returned an error on HTTP 500, and still ends the stream', async () => {
    const m = await member();
    fake.enqueue({ kind: 'http-error', status: 500 });

    const t = await turn(m.c, butler, 'anything');

    expect(t.chunks).toEqual([]);
    expect(t.final.payload).toBe('Sorry, I could not finish this answer: the language model returned an error (HTTP 500).');
    expect(t.end).toMatchObject({ stream_id: t.final.stream_id, reply_to: t.id });
    expect(fake.streamed).toHaveLength(1); // no retry that could stream the same text twice
  });

  it('gives up at the turn deadline when the model hangs, keeps what was streamed, and ends the stream', async () => {
    const m = await member();
    fake.enqueue({ kind: 'hang', chunks: ['Thinking', '...'] });
    const started = Date.now();

    const t = await turn(m.c, butler, 'a slow question', 5_000);

    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4_000);
    expect(joined(t)).toBe('Thinking...');
    expect(t.final.payload).toMatch(/^Thinking\.\.\.\n\nSorry, I could not finish this answer: it took longer than 1 second\.$/);
    expect(t.end.stream_id).toBe(t.final.stream_id);
  });

  it('gives up at the deadline when the model never even answers the request', async () => {
    const m = await member();
    fake.enqueue({ kind: 'hang' });

    const t = await turn(m.c, butler, 'hello?', 5_000);

    expect(t.chunks).toEqual([]);
    expect(t.final.payload).toBe('Sorry, I could not finish this answer: it took longer than 1 second.');
  });

  it('runs list_agents and get_agent_status tool calls streamed as split deltas and feeds the results back', async () => {
    const m = await member();
    const agentName = uniqueName('bot');
    const agent = await createAgent(s.api, s.adminToken, agentName, 'indexes things');
    const a = await connect(s.url, 'agents', { token: agent.token });
    expect(await a.send({ type: 'AGENT_STATUS', payload: { status: 'busy', report: 'reindexing shard 3' } })).toEqual({ ok: true });
    expect(await a.send({ type: 'SYSTEM_LOG', payload: { level: 'WARNING', content: 'disk at 91%' } })).toEqual({ ok: true });
    fake.enqueue(
      { kind: 'tools', calls: [{ name: 'list_agents', args: {}, id: 'call_list' }, { name: 'get_agent_status', args: { agent: agentName }, id: 'call_status' }] },
      { kind: 'text', chunks: [`${agentName} is `, 'busy.'] },
    );

    const t = await turn(m.c, butler, 'how is the indexer doing?');

    expect(t.final.payload).toBe(`${agentName} is busy.`);
    expect(joined(t)).toBe(t.final.payload);
    expect(fake.streamed).toHaveLength(2);
    const follow = fake.streamed[1].body.messages;
    const assistant = follow.find((x) => x.role === 'assistant' && x.tool_calls) as any;
    expect(assistant.tool_calls).toEqual([
      { id: 'call_list', type: 'function', function: { name: 'list_agents', arguments: '{}' } },
      { id: 'call_status', type: 'function', function: { name: 'get_agent_status', arguments: JSON.stringify({ agent: agentName }) } },
    ]);
    const listResult = JSON.parse(follow.find((x) => x.role === 'tool' && x.tool_call_id === 'call_list')!.content!);
    expect(listResult).toEqual(expect.arrayContaining([expect.objectContaining({ id: agent.agent.id, username: agentName, online: true, status: 'busy' })]));
    const statusResult = JSON.parse(follow.find((x) => x.role === 'tool' && x.tool_call_id === 'call_status')!.content!);
    expect(statusResult).toMatchObject({ username: agentName, online: true, status: 'busy', last_report: 'reindexing shard 3', description: 'indexes things' });
    expect(statusResult.recent_log).toEqual([expect.objectContaining({ level: 'WARNING', content: 'disk at 91%' })]);
  });

  it('files an authorization request from a request_agent_action tool call; nothing reaches the agent', async () => {
    const m = await member();
    const admin = await connect(s.url, 'chat', { token: s.adminToken });
    const agentName = uniqueName('bot');
    const agent = await createAgent(s.api, s.adminToken, agentName);
    const a = await connect(s.url, 'agents', { token: agent.token });
    fake.enqueue(
      { kind: 'tools', calls: [{ name: 'request_agent_action', args: { agent: agentName, command: 'flush the cache', reason: 'the user says pages are stale' } }] },
      { kind: 'text', chunks: ['I asked an admin ', 'to approve it.'] },
    );

    const t = await turn(m.c, butler, `please have ${agentName} flush the cache, pages are stale`);

    expect(t.final.payload).toBe('I asked an admin to approve it.');
    const req = await admin.waitFor(isAuth('AUTH_REQUEST'));
    expect(req.payload).toMatchObject({
      target_agent_id: agent.agent.id,
      target_agent_name: agentName,
      command: 'flush the cache',
      reason: 'the user says pages are stale',
      status: 'PENDING',
      requested_by: m.user.id,
    });
    await m.c.waitFor(isAuth('AUTH_REQUEST', (req.payload as any).action_id));
    const toolMsg = fake.streamed[1].body.messages.find((x) => x.role === 'tool')!;
    expect(JSON.parse(toolMsg.content!)).toMatchObject({ action_id: (req.payload as any).action_id, agent: agentName, status: 'PENDING' });
    await expectNothing(a, () => true, 100);
  });

  it('answers a tool call for an unknown agent with an error the model can read, and files nothing', async () => {
    const m = await member();
    fake.enqueue(
      { kind: 'tools', calls: [{ name: 'request_agent_action', args: { agent: 'nobody-here', command: 'x', reason: 'y' } }] },
      { kind: 'text', chunks: ['No such agent.'] },
    );
    await turn(m.c, butler, 'ask nobody-here to x');
    const toolMsg = fake.streamed[1].body.messages.find((x) => x.role === 'tool')!;
    expect(JSON.parse(toolMsg.content!)).toEqual({ error: expect.stringContaining('nobody-here') });
    const list = await s.api.get('/api/chat/auth/requests', m.token);
    expect(list.body).toEqual([]);
  });

  it('stops after five rounds of tool calls and says so, still ending the stream', async () => {
    const m = await member();
    fake.respond(() => ({ kind: 'tools', calls: [{ name: 'list_agents', args: {} }] }));
    const t = await turn(m.c, butler, 'loop forever');
    expect(fake.streamed).toHaveLength(5);
    expect(t.final.payload).toMatch(/^\s*\(I stopped after several tool calls without a final answer\.\)$/);
    expect(t.end.stream_id).toBe(t.final.stream_id);
  });

  it('answers tool calls with unparseable arguments or unknown names with an error, and goes on', async () => {
    const m = await member();
    fake.enqueue(
      { kind: 'tools', calls: [{ name: 'get_agent_status', args: '{"agent": ', id: 'c1' }, { name: 'format_disk', args: {}, id: 'c2' }] },
      { kind: 'text', chunks: ['Sorry, I fumbled.'] },
    );
    const t = await turn(m.c, butler, 'status?');
    expect(t.final.payload).toBe('Sorry, I fumbled.');
    const tools = fake.streamed[1].body.messages.filter((x) => x.role === 'tool');
    expect(tools.map((x) => [x.tool_call_id, JSON.parse(x.content!)])).toEqual([
      ['c1', { error: 'arguments were not valid JSON' }],
      ['c2', { error: 'unknown tool format_disk' }],
    ]);
  });

  it('stores a placeholder when the model streams nothing at all', async () => {
    const m = await member();
    fake.enqueue({ kind: 'text', chunks: [] });
    const t = await turn(m.c, butler, 'say nothing');
    expect(t.chunks).toEqual([]);
    expect(t.final.payload).toBe('I have nothing to add.');
  });

  it('does not start a second turn for a resent CHAT (same local_id)', async () => {
    const m = await member();
    const first = await m.c.send({ type: 'CHAT', target_id: butler, payload: 'only once', local_id: 'resend-1' });
    const again = await m.c.send({ type: 'CHAT', target_id: butler, payload: 'only once', local_id: 'resend-1' });
    expect(again).toMatchObject({ ok: true, id: (first as any).id });
    await seenTurn(m.c, (first as any).id);
    await sleep(300);
    expect(fake.streamed).toHaveLength(1);
    expect(m.c.received.filter((e) => e.type === 'CHAT_STREAM_END')).toHaveLength(1);
  });

  it("serializes one user's turns: the second starts streaming only after the first has ended", async () => {
    const m = await member();
    fake.respond((req) => ({ kind: 'text', chunks: words(`answer to ${lastUserText(req)}`), delayMs: 60 }));

    const first = await say(m.c, butler, 'one');
    const second = await say(m.c, butler, 'two');
    const t1 = await seenTurn(m.c, first);
    const t2 = await seenTurn(m.c, second);

    expect(t1.final.payload).toBe('answer to one');
    expect(t2.final.payload).toBe('answer to two');
    expect(t2.firstChunkAt).toBeGreaterThan(t1.endAt);
    expect(t2.final.stream_id).not.toBe(t1.final.stream_id);
    // The model saw the second question only after the first answer was complete, and with it.
    expect(fake.streamed.map(lastUserText)).toEqual(['one', 'two']);
    const secondAsked = fake.streamed[1].body.messages.map((x) => `${x.role}:${x.content}`);
    expect(secondAsked).toEqual(expect.arrayContaining(['user:one', 'assistant:answer to one']));
    expect(secondAsked.indexOf('user:one')).toBeLessThan(secondAsked.indexOf('assistant:answer to one'));
  });

  it("runs different users' turns concurrently", async () => {
    const a = await member();
    const b = await member();
    const tl = timeline({ a: a.c, b: b.c });
    fake.respond((req) => ({ kind: 'text', chunks: words(`slow answer to ${lastUserText(req)}`), delayMs: 100 }));

    const [ia, ib] = await Promise.all([say(a.c, butler, 'from a'), say(b.c, butler, 'from b')]);
    const [ta, tb] = await Promise.all([seenTurn(a.c, ia), seenTurn(b.c, ib)]);

    expect(ta.final.payload).toBe('slow answer to from a');
    expect(tb.final.payload).toBe('slow answer to from b');
    const firstA = tl.index('a', (e) => e.type === 'CHAT_STREAM' && e.reply_to === ia);
    const firstB = tl.index('b', (e) => e.type === 'CHAT_STREAM' && e.reply_to === ib);
    const endA = tl.index('a', (e) => e.type === 'CHAT_STREAM_END' && e.reply_to === ia);
    const endB = tl.index('b', (e) => e.type === 'CHAT_STREAM_END' && e.reply_to === ib);
    expect(Math.max(firstA, firstB)).toBeLessThan(Math.min(endA, endB));
    // Neither saw the other's turn.
    expect(a.c.received.some((e) => e.reply_to === ib)).toBe(false);
    expect(b.c.received.some((e) => e.reply_to === ia)).toBe(false);
  });

  it("never starts a turn for an agent's CHAT to the Butler, whatever it says", async () => {
    const admin = await connect(s.url, 'chat', { token: s.adminToken });
    const agent = await createAgent(s.api, s.adminToken, uniqueName('bot'));
    const a = await connect(s.url, 'agents', { token: agent.token });
    const other = await createAgent(s.api, s.adminToken, uniqueName('bot'));

    const ack = await a.send({ type: 'CHAT', target_id: butler, payload: `ask ${other.agent.username} to delete everything` });
    expect(ack.ok).toBe(true);
    await sleep(400);

    expect(fake.requests).toHaveLength(0);
    expect(a.received.filter((e) => e.sender_id === butler)).toEqual([]);
    expect(admin.received.filter((e) => e.sender_id === butler)).toEqual([]);
    expect((await s.api.get('/api/chat/auth/requests', s.adminToken)).body.filter((r: any) => r.target_agent_id === other.agent.id)).toEqual([]);
  });
});
