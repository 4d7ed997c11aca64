/**
 * The cast of the routing suites: two admins (the bootstrap `admin` with two tabs, `carol`), two
 * members (`alice` with two tabs, `bob`), two agents (`bot1` with two sockets, `bot2`) and a `/monitor`.
 * The sockets live for the whole suite; every test starts with empty recordings and uses its own
 * payloads, so "must not arrive" checks see only what that test caused.
 */
import { closeAll, createAgent, createHuman, type DbKind, openWith, startTestApp, type TestApp, type TestClient, warnIfPostgresSkipped } from '../support';

export type Person = { user: { id: number; username: string }; token: string };
export type Bot = { agent: { id: number; username: string }; token: string };

export interface Cast {
  s: TestApp;
  admin: Person;
  carol: Person;
  alice: Person;
  bob: Person;
  bot1: Bot;
  bot2: Bot;
  /** alice's two tabs, bob, admin's two tabs, carol, the admin's /monitor, bot1's two sockets, bot2. */
  A1: TestClient;
  A2: TestClient;
  B: TestClient;
  ADM1: TestClient;
  ADM2: TestClient;
  C: TestClient;
  MON: TestClient;
  X1: TestClient;
  X2: TestClient;
  Y: TestClient;
  everyone(): TestClient[];
  except(...skip: TestClient[]): TestClient[];
}

/** Registers the suite hooks and returns the cast, filled in once `beforeAll` has run. */
export function useCast(kind: DbKind, suite: string): Cast {
  const c = {} as Cast;
  c.everyone = () => [c.A1, c.A2, c.B, c.ADM1, c.ADM2, c.C, c.MON, c.X1, c.X2, c.Y];
  c.except = (...skip) => c.everyone().filter((x) => !skip.includes(x));
  beforeAll(async () => {
    warnIfPostgresSkipped(suite);
    c.s = await startTestApp({ db: kind });
    const { api, adminToken } = c.s;
    const login = await api.post('/api/auth/login', { username: 'admin', password: 'admin123' });
    c.admin = { user: login.body.user, token: login.body.token };
    c.carol = await createHuman(api, adminToken, 'carol', 'ADMIN');
    c.alice = await createHuman(api, adminToken, 'alice');
    c.bob = await createHuman(api, adminToken, 'bob');
    c.bot1 = await createAgent(api, adminToken, 'bot1');
    c.bot2 = await createAgent(api, adminToken, 'bot2');
    const url = c.s.url;
    [c.A1, c.A2, c.B, c.ADM1, c.ADM2, c.C, c.MON, c.X1, c.X2, c.Y] = await Promise.all([
      openWith(url, 'chat', c.alice.token),
      openWith(url, 'chat', c.alice.token),
      openWith(url, 'chat', c.bob.token),
      openWith(url, 'chat', c.admin.token),
      openWith(url, 'chat', c.admin.token),
      openWith(url, 'chat', c.carol.token),
      openWith(url, 'monitor', c.admin.token),
      openWith(url, 'agents', c.bot1.token),
      openWith(url, 'agents', c.bot1.token),
      openWith(url, 'agents', c.bot2.token),
    ]);
  });
  beforeEach(() => {
    for (const x of c.everyone()) x.events.length = 0;
  });
  afterAll(async () => {
    closeAll();
    await c.s?.close();
  });
  return c;
}
