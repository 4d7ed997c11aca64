import type { Envelope } from '../../src/shared/protocol';
import { closeAll, createAgent, createDb, createHuman, dbKinds, expectNoneOf, ISO_MS, openWith, sleep, startTestApp, type TestApp, type TestClient, times, warnIfPostgresSkipped } from '../support';

type View = { id: number; online: boolean; last_seen_at: string | null; [k: string]: unknown };

describe.each(dbKinds())('PRESENCE (PROTOCOL §4) on %s', (kind) => {
  let s: TestApp;
  let member: { user: { id: number }; token: string };
  let W: TestClient, ADMW: TestClient, MON: TestClient, Z: TestClient;
  let zAgent: { agent: { id: number }; token: string };

  beforeAll(async () => {
    warnIfPostgresSkipped('realtime/presence');
    s = await startTestApp({ db: kind });
    member = await createHuman(s.api, s.adminToken, 'watcher');
    zAgent = await createAgent(s.api, s.adminToken, 'bystander-bot');
    [W, ADMW, MON, Z] = await Promise.all([
      openWith(s.url, 'chat', member.token),
      openWith(s.url, 'chat', s.adminToken),
      openWith(s.url, 'monitor', s.adminToken),
      openWith(s.url, 'agents', zAgent.token),
    ]);
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  const watchers = () => [W, ADMW, MON];
  const presenceOf = (id: number, online?: boolean) => (e: Envelope) =>
    e.type === 'PRESENCE' && (e.payload as View).id === id && (online === undefined || (e.payload as View).online === online);
  const countOf = (c: TestClient, id: number) => c.received.filter(presenceOf(id)).length;
  const agentView = async (id: number): Promise<View> => {
    const list = (await s.api.get('/api/users/agents?limit=200', member.token)).body as View[];
    return list.find((a) => a.id === id)!;
  };

  it('announces an agent’s first socket and its last socket leaving, not the sockets in between; stores last_seen_at', async () => {
    const bot = await createAgent(s.api, s.adminToken, 'presence-bot');
    const id = bot.agent.id;
    expect(await agentView(id)).toMatchObject({ online: false, last_seen_at: null });

    const first = await openWith(s.url, 'agents', bot.token);
    for (const w of watchers()) {
      const got = await w.waitFor(presenceOf(id, true));
      expect(got).toMatchObject({ type: 'PRESENCE', sender_id: 0, sender_role: 'SYSTEM' });
      expect(got).not.toHaveProperty('id');
      expect(got.payload).toEqual(await agentView(id));
    }
    expect(await agentView(id)).toMatchObject({ online: true, last_seen_at: null });

    const second = await openWith(s.url, 'agents', bot.token);
    const third = await openWith(s.url, 'agents', bot.token);
    second.close();
    await sleep(200);
    expect(await agentView(id)).toMatchObject({ online: true });
    // Still the one announcement of the first socket: neither the 2nd/3rd socket nor the 2nd leaving counted.
    for (const w of watchers()) expect(countOf(w, id)).toBe(1);

    third.close();
    first.close();
    for (const w of watchers()) {
      const gone = await w.waitFor(presenceOf(id, false));
      expect((gone.payload as View).last_seen_at).toMatch(ISO_MS);
      expect(gone.payload).toEqual(await agentView(id));
    }
    const offline = await agentView(id);
    expect(offline).toMatchObject({ online: false, last_seen_at: expect.stringMatching(ISO_MS) });
    expect(Date.now() - Date.parse(offline.last_seen_at!)).toBeLessThan(30_000);
    await sleep(100);
    for (const w of watchers()) expect(countOf(w, id)).toBe(2);

    // Back online: announced again; last_seen_at keeps the last departure until the next one.
    const again = await openWith(s.url, 'agents', bot.token);
    for (const w of watchers()) expect((await w.waitFor((e) => presenceOf(id, true)(e) && w.received.filter(presenceOf(id)).length === 3)).payload).toMatchObject({ online: true, last_seen_at: offline.last_seen_at });
    again.close();
    for (const w of watchers()) await w.waitFor((e) => presenceOf(id, false)(e) && w.received.filter(presenceOf(id)).length === 4);
  });

  it('never sends PRESENCE to agents, neither the agent itself nor others', async () => {
    const bot = await createAgent(s.api, s.adminToken, 'quiet-bot');
    const a1 = await openWith(s.url, 'agents', bot.token);
    const a2 = await openWith(s.url, 'agents', bot.token);
    expect((await a1.send({ type: 'AGENT_STATUS', payload: { status: 'busy', report: 'r' } })).ok).toBe(true);
    await W.waitFor((e) => presenceOf(bot.agent.id)(e) && (e.payload as View).status === 'busy');
    a2.close();
    await expectNoneOf([Z, a1, a2], (e) => e.type === 'PRESENCE');
    a1.close();
    await W.waitFor(presenceOf(bot.agent.id, false));
    await expectNoneOf([Z], (e) => e.type === 'PRESENCE');
  });

  it('announces each of several agents once when they connect many sockets at the same time, and once when all leave', async () => {
    const bots = await Promise.all(times(5, (i) => createAgent(s.api, s.adminToken, `crowd-${i}`)));
    const sockets = await Promise.all(bots.flatMap((b) => times(3, () => openWith(s.url, 'agents', b.token))));
    for (const b of bots) await W.waitFor(presenceOf(b.agent.id, true));
    const list = (await s.api.get('/api/users/agents?limit=200', member.token)).body as View[];
    for (const b of bots) expect(list.find((a) => a.id === b.agent.id)).toMatchObject({ online: true });
    for (const c of sockets) c.close();
    for (const b of bots) await W.waitFor(presenceOf(b.agent.id, false));
    await sleep(150);
    for (const b of bots) {
      expect(W.received.filter(presenceOf(b.agent.id)).map((e) => (e.payload as View).online)).toEqual([true, false]);
      expect(MON.received.filter(presenceOf(b.agent.id)).map((e) => (e.payload as View).online)).toEqual([true, false]);
    }
    const after = (await s.api.get('/api/users/agents/status?limit=200', member.token)).body as View[];
    for (const b of bots) expect(after.find((a) => a.id === b.agent.id)).toMatchObject({ online: false, last_seen_at: expect.stringMatching(ISO_MS) });
  });

  it('stores last_seen_at for every agent of a replica that shuts down while they are connected', async () => {
    // A replica of its own on a database that outlives it, read back through the next one.
    const db = await createDb(kind);
    const first = await startTestApp({ db });
    const bots = await Promise.all(times(60, (i) => createAgent(first.api, first.adminToken, `draining-${i}`)));
    const sockets = await Promise.all(bots.map((b) => openWith(first.url, 'agents', b.token)));
    await first.close();
    for (const c of sockets) expect(await c.disconnected()).toBe('transport close');

    const next = await startTestApp({ db });
    try {
      const list = (await next.api.get('/api/users/agents?limit=200', next.adminToken)).body as View[];
      for (const b of bots) {
        expect(list.find((a) => a.id === b.agent.id)).toMatchObject({ online: false, last_seen_at: expect.stringMatching(ISO_MS) });
      }
    } finally {
      await next.close();
      await db.drop();
    }
  });

  it('shows the Butler online in GET /api/users/agents although it never connects', async () => {
    const list = (await s.api.get('/api/users/agents?limit=200', member.token)).body as (View & { role: string })[];
    expect(list.find((a) => a.role === 'BUTLER')).toMatchObject({ online: true });
  });
});
