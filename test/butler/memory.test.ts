/**
 * The Butler's memory (PROTOCOL §6, issue 5): each turn's context is rebuilt from the stored history,
 * so a restarted app continues the conversation, and a long conversation is bounded (older turns
 * summarised by the model).
 */
import { allContent, butlerId, closeAll, connect, createDb, createHuman, dbKinds, type FakeLlm, lastUserText, startFakeLlm, startTestApp, type TestApp, type TestDb, uniqueName, warnIfPostgresSkipped } from '../support';
import { turn } from './butler-helpers';

warnIfPostgresSkipped('butler memory');

/** The role:content lines a request sent, without the system prompt. */
const dialogue = (fake: FakeLlm, i: number) =>
  fake.streamed[i].body.messages.filter((m) => m.role !== 'system').map((m) => `${m.role}:${m.content}`);

describe.each(dbKinds())('Butler memory on %s', (kind) => {
  let fake: FakeLlm;
  let db: TestDb;
  let s: TestApp;

  beforeAll(async () => {
    fake = await startFakeLlm();
    db = await createDb(kind);
    s = await startTestApp({ db, env: fake.env() });
  });
  afterEach(() => {
    closeAll();
    fake.reset();
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
    await db?.drop();
    await fake?.close();
  });

  it('sends the earlier turns to the model, rebuilt from history, and continues them after a restart', async () => {
    const butler = await butlerId(s);
    const m = await createHuman(s.api, s.adminToken, uniqueName('m'));
    const c = await connect(s.url, 'chat', { token: m.token });

    await turn(c, butler, 'my favourite colour is teal');
    await turn(c, butler, 'what is my favourite colour?');
    expect(dialogue(fake, 0)).toEqual(['user:my favourite colour is teal']);
    expect(dialogue(fake, 1)).toEqual([
      'user:my favourite colour is teal',
      'assistant:You said: my favourite colour is teal',
      'user:what is my favourite colour?',
    ]);
    // Another user's conversation is not part of this one.
    const other = await createHuman(s.api, s.adminToken, uniqueName('m'));
    const oc = await connect(s.url, 'chat', { token: other.token });
    await turn(oc, butler, 'hello');
    expect(dialogue(fake, 2)).toEqual(['user:hello']);

    // Restart on the same database: a new app, a new brain, nothing in process memory.
    closeAll();
    await s.close();
    fake.reset();
    s = await startTestApp({ db, env: fake.env() });
    const c2 = await connect(s.url, 'chat', { token: m.token });
    await turn(c2, butler, 'and after the restart?');
    expect(dialogue(fake, 0)).toEqual([
      'user:my favourite colour is teal',
      'assistant:You said: my favourite colour is teal',
      'user:what is my favourite colour?',
      'assistant:You said: what is my favourite colour?',
      'user:and after the restart?',
    ]);
  });

  it('bounds a long conversation: the request stays small and the older turns are summarised by the model', async () => {
    const butler = await butlerId(s);
    const m = await createHuman(s.api, s.adminToken, uniqueName('m'));
    const c = await connect(s.url, 'chat', { token: m.token });
    const long = (i: number) => `turn ${i}: ${'lorem-ipsum-'.repeat(250)}`; // ~3 KB, and the echo doubles it
    for (let i = 0; i < 8; i++) await turn(c, butler, long(i));
    fake.reset();

    await turn(c, butler, 'what did we talk about?');

    const history = await s.api.get(`/api/chat/history/${butler}?limit=200`, m.token);
    const storedChars = history.body.reduce((n: number, h: { payload: unknown }) => n + JSON.stringify(h.payload).length, 0);
    expect(storedChars).toBeGreaterThan(45_000);
    // One summary request (not streamed, with our key) covering the oldest turns...
    expect(fake.summaries).toHaveLength(1);
    const summary = fake.summaries[0];
    expect(summary.headers.authorization).toBe('Bearer test-key');
    expect(allContent(summary)).toContain('turn 0:');
    // ...and one streamed request that carries the summary and the newest turns verbatim, and stays small.
    expect(fake.streamed).toHaveLength(1);
    const req = fake.streamed[0];
    expect(lastUserText(req)).toBe('what did we talk about?');
    expect(req.size).toBeLessThan(16_384);
    const sent = allContent(req);
    expect(sent).toContain('Summary of our earlier conversation: SUMMARY');
    expect(sent).toContain('turn 7:');
    expect(sent).not.toContain('turn 0:');
  });
});
