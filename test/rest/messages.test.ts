import type { SystemLogPayload } from '../../src/shared/protocol';
import { createAgent, createHuman, dbKinds, expectError, insertLogs, ISO_MS, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

/** A system log entry as the API returns it (the server's own type). */
type Entry = SystemLogPayload;
const ENTRY_KEYS = ['agent_id', 'agent_name', 'content', 'id', 'level', 'timestamp'];
const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'SUCCESS'];

describe.each(dbKinds())('POST /api/messages on %s', (kind) => {
  let s: TestApp;
  let agent: { agent: { id: number; username: string }; token: string };
  let memberToken: string;
  beforeAll(async () => {
    warnIfPostgresSkipped('system log');
    s = await startTestApp({ db: kind });
    agent = await createAgent(s.api, s.adminToken, 'logger-agent');
    memberToken = (await createHuman(s.api, s.adminToken, 'reader')).token;
  });
  afterAll(() => s?.close());

  it.each(LEVELS)("stores an admin's %s entry: 201 with agent_id null and the admin's name", async (level) => {
    const res = await s.api.post('/api/messages', { level, content: `admin says ${level}` }, s.adminToken);
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(ENTRY_KEYS);
    expect(res.body).toMatchObject({ agent_id: null, agent_name: 'admin', level, content: `admin says ${level}` });
    expect(res.body.timestamp).toMatch(ISO_MS);
    const listed = (await s.api.get('/api/messages?limit=1', memberToken)).body;
    expect(listed).toEqual([res.body]);
  });

  it("stores an agent's entry posted with its API token", async () => {
    const res = await s.api.post('/api/messages', { level: 'WARNING', content: 'disk at 91%' }, agent.token);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ agent_id: agent.agent.id, agent_name: 'logger-agent', level: 'WARNING', content: 'disk at 91%' });
  });

  it('keeps content exactly as sent (unicode, quotes, newlines)', async () => {
    const content = 'Grüße 👋 "quoted" \\ back\nslash\ttab';
    const res = await s.api.post('/api/messages', { level: 'INFO', content }, s.adminToken);
    expect(res.body.content).toBe(content);
    expect((await s.api.get(`/api/messages?before_id=${res.body.id + 1}&limit=1`, memberToken)).body[0].content).toBe(content);
  });

  it('ignores unknown fields and any client-set id, agent or timestamp', async () => {
    const res = await s.api.post(
      '/api/messages',
      { level: 'INFO', content: 'spoof', id: 1, agent_id: 42, agent_name: 'someone-else', timestamp: '2000-01-01T00:00:00.000Z' },
      s.adminToken,
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ agent_id: null, agent_name: 'admin' });
    expect(res.body.timestamp).not.toBe('2000-01-01T00:00:00.000Z');
  });

  it.each([
    ['no level', { content: 'x' }],
    ['level NOPE', { level: 'NOPE', content: 'x' }],
    ['a lower-case level', { level: 'info', content: 'x' }],
    ['no content', { level: 'INFO' }],
    ['empty content', { level: 'INFO', content: '' }],
    ['numeric content', { level: 'INFO', content: 42 }],
    ['object content', { level: 'INFO', content: { text: 'x' } }],
    ['content over MAX_PAYLOAD_BYTES', { level: 'INFO', content: 'x'.repeat(65537) }],
  ])('refuses %s with 400 VALIDATION_ERROR and stores nothing', async (_name, body) => {
    const before = (await s.api.get('/api/messages?limit=1', memberToken)).body[0]?.id;
    expectError(await s.api.post('/api/messages', body, s.adminToken), 400, 'VALIDATION_ERROR');
    expect((await s.api.get('/api/messages?limit=1', memberToken)).body[0]?.id).toBe(before);
  });

  it('refuses a MEMBER with 403 and stores nothing', async () => {
    expectError(await s.api.post('/api/messages', { level: 'INFO', content: 'member log' }, memberToken), 403, 'FORBIDDEN');
    const list: Entry[] = (await s.api.get('/api/messages?q=member%20log', memberToken)).body;
    expect(list).toEqual([]);
  });

  it('refuses an unknown or malformed agent token with 401', async () => {
    expectError(await s.api.post('/api/messages', { level: 'INFO', content: 'x' }, 'ec_' + 'Z'.repeat(43)), 401, 'UNAUTHORIZED');
    expectError(await s.api.post('/api/messages', { level: 'INFO', content: 'x' }, 'ec_'), 401, 'UNAUTHORIZED');
    expectError(await s.api.post('/api/messages', { level: 'INFO', content: 'x' }), 401, 'UNAUTHORIZED');
  });
});

describe.each(dbKinds())('GET /api/messages on %s', (kind) => {
  let s: TestApp;
  let memberToken: string;
  let bulk: number[];
  let a1: { agent: { id: number }; token: string };
  let a2: { agent: { id: number }; token: string };
  const post = async (token: string, level: string, content: string): Promise<Entry> => {
    const res = await s.api.post('/api/messages', { level, content }, token);
    if (res.status !== 201) throw new Error(res.text);
    return res.body;
  };
  let posted: Entry[];
  beforeAll(async () => {
    s = await startTestApp({ db: kind });
    memberToken = (await createHuman(s.api, s.adminToken, 'watcher')).token;
    bulk = await insertLogs(s.app, 230, 'DEBUG');
    a1 = await createAgent(s.api, s.adminToken, 'agent-one');
    a2 = await createAgent(s.api, s.adminToken, 'agent-two');
    posted = [
      await post(a1.token, 'ERROR', 'Disk FULL on node-7'),
      await post(a2.token, 'INFO', 'disk check ok'),
      await post(a1.token, 'SUCCESS', 'backup 100% done'),
      await post(a2.token, 'WARNING', 'backup 100 done, 1 skipped'),
      await post(s.adminToken, 'INFO', 'file a_b.txt rotated'),
      await post(a1.token, 'INFO', 'file axb.txt rotated'),
      await post(a2.token, 'ERROR', 'path C:\\temp\\x not found'),
    ];
  });
  afterAll(() => s?.close());

  it('lists newest first, 50 by default, to any human', async () => {
    for (const token of [memberToken, s.adminToken]) {
      const res = await s.api.get('/api/messages', token);
      expect(res.status).toBe(200);
      const list: Entry[] = res.body;
      expect(list).toHaveLength(50);
      expect(list.slice(0, posted.length)).toEqual([...posted].reverse());
      expect(list.map((e) => e.id)).toEqual([...list.map((e) => e.id)].sort((a, b) => b - a));
      for (const e of list) expect(Object.keys(e).sort()).toEqual(ENTRY_KEYS);
    }
  });

  it('clamps limit to 200', async () => {
    expect((await s.api.get('/api/messages?limit=1000', memberToken)).body).toHaveLength(200);
  });

  it('pages backwards with before_id, without gaps or repeats', async () => {
    const seen: number[] = [];
    let cursor = '';
    for (;;) {
      const page: Entry[] = (await s.api.get(`/api/messages?limit=60${cursor}`, memberToken)).body;
      if (!page.length) break;
      seen.push(...page.map((e) => e.id));
      cursor = `&before_id=${page[page.length - 1].id}`;
    }
    expect(seen).toEqual([...posted.map((e) => e.id)].reverse().concat([...bulk].reverse()));
  });

  it('answers [] before the first entry', async () => {
    expect((await s.api.get(`/api/messages?before_id=${bulk[0]}`, memberToken)).body).toEqual([]);
  });

  it('filters by level', async () => {
    const list: Entry[] = (await s.api.get('/api/messages?level=ERROR', memberToken)).body;
    expect(list.map((e) => e.id)).toEqual([posted[6].id, posted[0].id]);
  });

  it('filters by agent_id', async () => {
    const list: Entry[] = (await s.api.get(`/api/messages?agent_id=${a1.agent.id}`, memberToken)).body;
    expect(list.map((e) => e.id)).toEqual([posted[5].id, posted[2].id, posted[0].id]);
  });

  it('filters by q as a case-insensitive substring of content', async () => {
    const list: Entry[] = (await s.api.get('/api/messages?q=DISK', memberToken)).body;
    expect(list.map((e) => e.content)).toEqual(['disk check ok', 'Disk FULL on node-7']);
    const mixed: Entry[] = (await s.api.get('/api/messages?q=fUlL%20oN', memberToken)).body;
    expect(mixed.map((e) => e.id)).toEqual([posted[0].id]);
  });

  it("matches '%' in q literally", async () => {
    const list: Entry[] = (await s.api.get(`/api/messages?q=${encodeURIComponent('100%')}`, memberToken)).body;
    expect(list.map((e) => e.content)).toEqual(['backup 100% done']);
    const lone: Entry[] = (await s.api.get(`/api/messages?q=${encodeURIComponent('%')}`, memberToken)).body;
    expect(lone.map((e) => e.id)).toEqual([posted[2].id]);
  });

  it("matches '_' in q literally", async () => {
    const list: Entry[] = (await s.api.get(`/api/messages?q=${encodeURIComponent('a_b')}`, memberToken)).body;
    expect(list.map((e) => e.content)).toEqual(['file a_b.txt rotated']);
  });

  it('matches a backslash in q literally', async () => {
    const list: Entry[] = (await s.api.get(`/api/messages?q=${encodeURIComponent('C:\\temp\\')}`, memberToken)).body;
    expect(list.map((e) => e.id)).toEqual([posted[6].id]);
  });

  it('combines level, agent_id, q, before_id and limit', async () => {
    const q = `level=INFO&agent_id=${a1.agent.id}&q=ROTATED&limit=5`;
    expect((await s.api.get(`/api/messages?${q}`, memberToken)).body.map((e: Entry) => e.id)).toEqual([posted[5].id]);
    const before = `level=ERROR&before_id=${posted[6].id}&limit=1`;
    expect((await s.api.get(`/api/messages?${before}`, memberToken)).body.map((e: Entry) => e.id)).toEqual([posted[0].id]);
  });

  it('answers [] when nothing matches', async () => {
    const res = await s.api.get('/api/messages?q=no-such-text-anywhere', memberToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it.each(['limit=0', 'limit=abc', 'limit=-5', 'level=NOPE', 'level=error', 'before_id=abc', 'before_id=0', 'agent_id=abc', `q=${'q'.repeat(201)}`])(
    'refuses ?%s with 400 VALIDATION_ERROR',
    async (q) => {
      expectError(await s.api.get(`/api/messages?${q}`, memberToken), 400, 'VALIDATION_ERROR');
    },
  );

  it("refuses an agent's API token with 401 (reading is for humans)", async () => {
    expectError(await s.api.get('/api/messages', a1.token), 401, 'UNAUTHORIZED');
  });
});
