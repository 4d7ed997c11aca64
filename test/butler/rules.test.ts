/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The rule-based Butler (no model configured, PROTOCOL §6): `list agents`, `status of <agent>`,
 * `ask|tell <agent> to <command>`, case-insensitive, and a short help text for anything else.
 */
import { RULES_HELP } from '../../src/butler/rules-brain';
import { butlerId, closeAll, connect, createAgent, createHuman, dbKinds, expectNothing, startTestApp, type TestApp, type TestClient, uniqueName, warnIfPostgresSkipped } from '../support';
import { isAuth, joined, turn } from './butler-helpers';

warnIfPostgresSkipped('butler rules');

describe.each(dbKinds())('the rule-based Butler on %s', (kind) => {
  let s: TestApp;
  let butler: number;
  let m: { user: any; token: string };
  let c: TestClient;
  let admin: TestClient;
  let bot: { agent: any; token: string };
  let a: TestClient;

  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    butler = await butlerId(s);
    m = await createHuman(s.api, s.adminToken, uniqueName('m'));
    bot = await createAgent(s.api, s.adminToken, 'Indexer', 'indexes the docs');
    await createAgent(s.api, s.adminToken, 'sleeper');
    c = await connect(s.url, 'chat', { token: m.token });
    admin = await connect(s.url, 'chat', { token: s.adminToken });
    a = await connect(s.url, 'agents', { token: bot.token });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('GET /api/users/butler reports mode "rules" without a model', async () => {
    const res = await s.api.get('/api/users/butler', m.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: butler, role: 'BUTLER', mode: 'rules' });
  });

  it.each(['list agents', 'LIST AGENTS', '  List Agents?  '])('answers %j with every agent and its presence', async (text) => {
    const t = await turn(c, butler, text);
    expect(t.final.payload).toBe('Agents (2):\n• Indexer — online\n• sleeper — offline');
    expect(joined(t)).toBe(t.final.payload);
    expect(t.chunks.length).toBeGreaterThan(1); // streamed, word by word
    expect(t.end).toMatchObject({ stream_id: t.final.stream_id, reply_to: t.id });
  });

  it('answers "status of <agent>" with the status and last report an AGENT_STATUS set, and the recent log', async () => {
    expect(await a.send({ type: 'AGENT_STATUS', payload: { status: 'busy', report: 'reindexing 40%' } })).toEqual({ ok: true });
    expect(await a.send({ type: 'SYSTEM_LOG', payload: { level: 'ERROR', content: 'shard 2 failed' } })).toEqual({ ok: true });

    const t = await turn(c, butler, 'Status of indexer');

    expect(t.final.payload).toBe('Indexer is online; status: busy; last report: reindexing 40%\nRecent log:\n  [ERROR] shard 2 failed');
    const list = await turn(c, butler, 'list agents');
    expect(list.final.payload).toContain('• Indexer — online, busy');
    const offline = await turn(c, butler, 'STATUS OF SLEEPER');
    expect(offline.final.payload).toBe('sleeper is offline; status: unknown; last report: none');
  });

  it('says it does not know an unknown agent, and files nothing for it', async () => {
    const status = await turn(c, butler, 'status of ghost');
    expect(status.final.payload).toBe('I don\'t know an agent called "ghost".');
    const ask = await turn(c, butler, 'ask ghost to haunt the house');
    expect(ask.final.payload).toBe('I don\'t know an agent called "ghost".');
    // A human is not an agent either.
    const human = await turn(c, butler, `tell ${m.user.username} to go home`);
    expect(human.final.payload).toBe(`I don't know an agent called "${m.user.username}".`);
    expect((await s.api.get('/api/chat/auth/requests', m.token)).body).toEqual([]);
    await expectNothing(admin, (e) => e.type === 'AUTH_REQUEST', 0);
  });

  it.each([
    ['ask indexer to rebuild the index', 'rebuild the index'],
    ['TELL Indexer TO Rotate The Logs', 'Rotate The Logs'],
  ])('files %j as a PENDING authorization request for the command', async (text, command) => {
    const before = admin.received.length;
    const t = await turn(c, butler, text);
    const req = await admin.waitFor((e) => admin.received.indexOf(e) >= before && isAuth('AUTH_REQUEST')(e));
    const p = req.payload as any;
    expect(p).toMatchObject({
      target_agent_id: bot.agent.id,
      target_agent_name: 'Indexer',
      command,
      status: 'PENDING',
      requested_by: m.user.id,
    });
    expect(p.reason).toContain(text);
    expect(t.final.payload).toBe(`I asked for approval to have Indexer do: ${command}\nAction ${p.action_id} is waiting for an admin (expires ${p.expires_at}).`);
    await c.waitFor(isAuth('AUTH_REQUEST', p.action_id));
    // Filing is not doing: the agent has received nothing.
    await expectNothing(a, (e) => e.sender_id === butler, 100);
  });

  it.each(['hello', 'what can you do?', 'list the agents and their owners please', 'ask indexer', ''])(
    'answers %j with a short help text',
    async (text) => {
      const t = await turn(c, butler, text);
      expect(t.final.payload).toBe(`Sorry, I didn't understand that. ${RULES_HELP}`);
      expect((t.final.payload as string).length).toBeLessThan(400);
      expect(t.final.payload).toContain('list agents');
      expect(t.final.payload).toContain('status of <agent>');
      expect(t.final.payload).toContain('ask <agent> to <command>');
    },
  );

  it('answers a CHAT whose payload is an object by its text field', async () => {
    const ack = await c.send({ type: 'CHAT', target_id: butler, payload: { text: 'list agents' } });
    expect(ack.ok).toBe(true);
    const final = await c.waitFor((e) => e.type === 'CHAT' && e.reply_to === (ack as any).id);
    expect(final.payload).toMatch(/^Agents \(2\):/);
  });
});
