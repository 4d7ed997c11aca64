import { type ChatRow, createAgent, createHuman, dbKinds, expectError, insertChats, ISO_MS, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

type Who = ChatRow['from'];
interface Envelope {
  id: number;
  type: string;
  sender_id: number;
  target_id: number | null;
  payload: unknown;
}
const ENVELOPE_KEYS = ['id', 'local_id', 'payload', 'reply_to', 'sender_id', 'sender_name', 'sender_role', 'stream_id', 'target_id', 'timestamp', 'type'];
const idsOf = (list: Envelope[]) => list.map((m) => m.id);

describe.each(dbKinds())('GET /api/chat/history/:peer_id on %s', (kind) => {
  let s: TestApp;
  let admin: Who;
  let mia: Who & { token: string };
  let noah: Who & { token: string };
  let agent: Who & { token: string };
  /** Ids of the mia <-> noah conversation, ascending. */
  let conv: number[];
  /** Ids of the 230-message admin <-> agent conversation. */
  let long: number[];
  beforeAll(async () => {
    warnIfPostgresSkipped('chat history');
    s = await startTestApp({ db: kind });
    const a = (await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.user;
    admin = { id: a.id, username: a.username, role: 'ADMIN' };
    const m = await createHuman(s.api, s.adminToken, 'mia');
    mia = { id: m.user.id, username: 'mia', role: 'MEMBER', token: m.token };
    const n = await createHuman(s.api, s.adminToken, 'noah');
    noah = { id: n.user.id, username: 'noah', role: 'MEMBER', token: n.token };
    const ag = await createAgent(s.api, s.adminToken, 'helper-bot');
    agent = { id: ag.agent.id, username: 'helper-bot', role: 'AGENT', token: ag.token };

    // Interleave the conversation under test with traffic it must not include.
    const rows: ChatRow[] = [];
    const own: number[] = [];
    for (let i = 0; i < 12; i++) {
      own.push(rows.length);
      rows.push(i % 2 ? { from: noah, to: mia.id, text: `n${i}` } : { from: mia, to: noah.id, text: `m${i}`, localId: `mia-${i}` });
      rows.push({ from: mia, to: agent.id, text: 'to the agent' }, { from: admin, to: noah.id, text: 'admin to noah' }, { from: admin, to: null, text: 'broadcast' });
    }
    const inserted = await insertChats(s.app, rows);
    conv = own.map((i) => inserted[i]);
    long = await insertChats(
      s.app,
      Array.from({ length: 230 }, (_, i) => (i % 3 ? { from: admin, to: agent.id, text: `a${i}` } : { from: agent, to: admin.id, text: `b${i}` })),
    );
  });
  afterAll(() => s?.close());

  it("returns the caller's conversation with the peer, both directions, ascending by id", async () => {
    const res = await s.api.get(`/api/chat/history/${noah.id}`, mia.token);
    expect(res.status).toBe(200);
    expect(idsOf(res.body)).toEqual(conv);
    const fromNoah = (await s.api.get(`/api/chat/history/${mia.id}`, noah.token)).body;
    expect(fromNoah).toEqual(res.body);
  });

  it('returns stored envelopes as §3.1 describes them', async () => {
    const [first, second]: Envelope[] = (await s.api.get(`/api/chat/history/${noah.id}`, mia.token)).body;
    expect(Object.keys(first).sort()).toEqual(ENVELOPE_KEYS);
    expect(first).toMatchObject({ type: 'CHAT', sender_id: mia.id, sender_name: 'mia', sender_role: 'MEMBER', target_id: noah.id, payload: 'm0', local_id: 'mia-0', stream_id: null, reply_to: null });
    expect(second).toMatchObject({ sender_id: noah.id, target_id: mia.id, payload: 'n1', local_id: null });
    expect((first as unknown as { timestamp: string }).timestamp).toMatch(ISO_MS);
  });

  it('returns only the newest limit messages without a cursor', async () => {
    expect(idsOf((await s.api.get(`/api/chat/history/${noah.id}?limit=5`, mia.token)).body)).toEqual(conv.slice(-5));
  });

  it('returns the limit messages just before before_id', async () => {
    const res = await s.api.get(`/api/chat/history/${noah.id}?before_id=${conv[8]}&limit=3`, mia.token);
    expect(idsOf(res.body)).toEqual(conv.slice(5, 8));
    expect(idsOf((await s.api.get(`/api/chat/history/${noah.id}?before_id=${conv[2]}&limit=10`, mia.token)).body)).toEqual(conv.slice(0, 2));
    expect((await s.api.get(`/api/chat/history/${noah.id}?before_id=${conv[0]}`, mia.token)).body).toEqual([]);
  });

  it('returns the limit messages just after after_id', async () => {
    const res = await s.api.get(`/api/chat/history/${noah.id}?after_id=${conv[3]}&limit=3`, mia.token);
    expect(idsOf(res.body)).toEqual(conv.slice(4, 7));
    expect(idsOf((await s.api.get(`/api/chat/history/${noah.id}?after_id=${conv[9]}&limit=10`, mia.token)).body)).toEqual(conv.slice(10));
    expect((await s.api.get(`/api/chat/history/${noah.id}?after_id=${conv[11]}`, mia.token)).body).toEqual([]);
  });

  it('defaults limit to 50 and clamps it to 200', async () => {
    const base = `/api/chat/history/${agent.id}`;
    expect(idsOf((await s.api.get(base, s.adminToken)).body)).toEqual(long.slice(-50));
    expect(idsOf((await s.api.get(`${base}?limit=999`, s.adminToken)).body)).toEqual(long.slice(-200));
    expect(idsOf((await s.api.get(`${base}?after_id=${long[0]}&limit=999`, s.adminToken)).body)).toEqual(long.slice(1, 201));
  });

  it('walks a whole conversation backwards with before_id without gaps', async () => {
    const seen: number[] = [];
    let cursor = '';
    for (;;) {
      const page: Envelope[] = (await s.api.get(`/api/chat/history/${agent.id}?limit=70${cursor}`, s.adminToken)).body;
      if (!page.length) break;
      seen.unshift(...idsOf(page));
      cursor = `&before_id=${page[0].id}`;
    }
    expect(seen).toEqual(long);
  });

  it('answers [] for a peer with no conversation', async () => {
    const res = await s.api.get(`/api/chat/history/${agent.id}`, noah.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('shows nobody else’s conversation: a member asking about a peer sees only their own messages with that peer', async () => {
    const list: Envelope[] = (await s.api.get(`/api/chat/history/${admin.id}`, mia.token)).body;
    expect(list).toEqual([]);
    const noahsView: Envelope[] = (await s.api.get(`/api/chat/history/${admin.id}`, noah.token)).body;
    expect(noahsView).toHaveLength(12);
    for (const m of noahsView) expect([m.sender_id, m.target_id]).toEqual([admin.id, noah.id]);
  });

  it.each(['999999', 'abc', '0'])('answers 404 NOT_FOUND for the unknown peer %s', async (peer) => {
    expectError(await s.api.get(`/api/chat/history/${peer}`, mia.token), 404, 'NOT_FOUND');
  });

  it.each(['limit=0', 'limit=abc', 'before_id=abc', 'after_id=-1'])('refuses ?%s with 400 VALIDATION_ERROR', async (q) => {
    expectError(await s.api.get(`/api/chat/history/${noah.id}?${q}`, mia.token), 400, 'VALIDATION_ERROR');
  });

  it('refuses before_id and after_id together with 400', async () => {
    expectError(await s.api.get(`/api/chat/history/${noah.id}?before_id=${conv[5]}&after_id=${conv[1]}`, mia.token), 400, 'VALIDATION_ERROR');
  });

  it("refuses an agent's API token with 401", async () => {
    expectError(await s.api.get(`/api/chat/history/${admin.id}`, agent.token), 401, 'UNAUTHORIZED');
  });
});

describe.each(dbKinds())('GET /api/chat/butler-agent/:agent_id on %s', (kind) => {
  let s: TestApp;
  let butler: Who;
  let bot: Who & { token: string };
  let other: Who;
  let conv: number[];
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    const b = (await s.api.get('/api/users/butler', s.adminToken)).body;
    butler = { id: b.id, username: b.username, role: 'BUTLER' };
    const a = await createAgent(s.api, s.adminToken, 'deploy-bot');
    bot = { id: a.agent.id, username: 'deploy-bot', role: 'AGENT', token: a.token };
    const o = await createAgent(s.api, s.adminToken, 'other-bot');
    other = { id: o.agent.id, username: 'other-bot', role: 'AGENT' };
    const rows: ChatRow[] = [];
    for (let i = 0; i < 8; i++) {
      rows.push(i % 2 ? { from: bot, to: butler.id, text: `reply ${i}` } : { from: butler, to: bot.id, text: `do ${i}` });
      rows.push({ from: butler, to: other.id, text: 'elsewhere' });
    }
    conv = (await insertChats(s.app, rows)).filter((_, i) => i % 2 === 0);
  });
  afterAll(() => s?.close());

  it('returns the Butler↔agent conversation to an admin, ascending by id', async () => {
    const res = await s.api.get(`/api/chat/butler-agent/${bot.id}`, s.adminToken);
    expect(res.status).toBe(200);
    expect(idsOf(res.body)).toEqual(conv);
    expect(res.body[0]).toMatchObject({ sender_id: butler.id, sender_role: 'BUTLER', target_id: bot.id, payload: 'do 0' });
    expect(res.body[1]).toMatchObject({ sender_id: bot.id, sender_role: 'AGENT', target_id: butler.id, payload: 'reply 1' });
  });

  it('pages like every conversation', async () => {
    const base = `/api/chat/butler-agent/${bot.id}`;
    expect(idsOf((await s.api.get(`${base}?limit=3`, s.adminToken)).body)).toEqual(conv.slice(-3));
    expect(idsOf((await s.api.get(`${base}?before_id=${conv[4]}&limit=2`, s.adminToken)).body)).toEqual(conv.slice(2, 4));
    expect(idsOf((await s.api.get(`${base}?after_id=${conv[4]}&limit=2`, s.adminToken)).body)).toEqual(conv.slice(5, 7));
    expectError(await s.api.get(`${base}?limit=0`, s.adminToken), 400, 'VALIDATION_ERROR');
  });

  it('answers 404 for an id that is not an agent (unknown, a human, the Butler)', async () => {
    const adminId = (await s.api.post('/api/auth/login', { username: 'admin', password: 'admin123' })).body.user.id;
    for (const id of [999999, adminId, butler.id, 'abc']) {
      expectError(await s.api.get(`/api/chat/butler-agent/${id}`, s.adminToken), 404, 'NOT_FOUND');
    }
  });

  it('refuses a MEMBER with 403 and an agent token with 401', async () => {
    const member = await createHuman(s.api, s.adminToken, 'curious');
    expectError(await s.api.get(`/api/chat/butler-agent/${bot.id}`, member.token), 403, 'FORBIDDEN');
    expectError(await s.api.get(`/api/chat/butler-agent/${bot.id}`, bot.token), 401, 'UNAUTHORIZED');
  });
});
