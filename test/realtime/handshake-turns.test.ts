import { io } from 'socket.io-client';
import { HandshakeTurns } from '../../src/hub/handshake-turns';
import { closeAll, createAgent, eventually, openWith, refusal, sleep, startTestApp, times, unauthorizedOn, type Agent, type TestApp, type TestClient } from '../support';

// HANDSHAKE_CONCURRENCY: at most that many handshakes identify their client at once; the others wait
// their turn in arrival order, and every one of them gets in (or its refusal) once it is its turn.

/** A login that waits until the test lets it go, one gate per call, in call order. */
function gatedLogins(s: TestApp) {
  const agents = s.app.services.agents;
  const real = agents.login.bind(agents);
  const gates: (() => void)[] = [];
  const spy = jest.spyOn(agents, 'login').mockImplementation(async (token) => {
    await new Promise<void>((resolve) => gates.push(resolve));
    return real(token);
  });
  return {
    spy,
    /** Lets the oldest waiting login go on. */
    release: () => gates.shift()!(),
    get held() {
      return gates.length;
    },
  };
}

const waitingGauge = async (s: TestApp) => Number(/^echocenter_handshakes_waiting (\d+)/m.exec((await s.api.get('/metrics')).text)?.[1]);

describe('handshake turns (HANDSHAKE_CONCURRENCY)', () => {
  let s: TestApp;
  let bots: Agent[];

  beforeAll(async () => {
    s = await startTestApp({ env: { HANDSHAKE_CONCURRENCY: '2' } });
    bots = [];
    for (const i of times(5, (i) => i)) bots.push(await createAgent(s.api, s.adminToken, `turn-bot-${i}`));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    closeAll();
  });
  afterAll(() => s?.close());

  it('identifies two at a time: the others wait, in line, and all five get in once the first are done', async () => {
    const logins = gatedLogins(s);
    const connecting = bots.map((b) => openWith(s.url, 'agents', b.token));
    await eventually(() => logins.held === 2);
    await eventually(async () => (await waitingGauge(s)) === 3);
    await sleep(300);
    // Two in their turn, three waiting: no third look-up has started.
    expect(logins.spy).toHaveBeenCalledTimes(2);
    expect(await waitingGauge(s)).toBe(3);
    for (let done = 0; done < 5; done++) {
      await eventually(() => logins.held > 0);
      logins.release();
    }
    const clients: TestClient[] = await Promise.all(connecting);
    expect(clients.every((c) => c.socket.connected)).toBe(true);
    expect(logins.spy).toHaveBeenCalledTimes(5);
    expect(await waitingGauge(s)).toBe(0);
  });

  it('passes a refused or failed handshake\'s turn on: the next one still gets in', async () => {
    const agents = s.app.services.agents;
    const real = agents.login.bind(agents);
    jest.spyOn(agents, 'login').mockImplementation((token) => (token === bots[0].token ? Promise.reject(new Error('database gone')) : real(token)));
    const [failed, refusedA, refusedB, ok] = await Promise.all([
      refusal(s.url, 'agents', { auth: { token: bots[0].token } }),
      refusal(s.url, 'agents', { auth: { token: 'ec_not-a-token' } }),
      refusal(s.url, 'agents', { auth: { token: 'ec_not-a-token-either' } }),
      openWith(s.url, 'agents', bots[1].token),
    ]);
    expect(failed).toEqual({ message: 'unavailable', data: { code: 'UNAVAILABLE' } });
    expect(refusedA).toEqual(unauthorizedOn('agents'));
    expect(refusedB).toEqual(unauthorizedOn('agents'));
    expect(ok.socket.connected).toBe(true);
  });

  it('skips a client that gave up while it waited: its credential is never looked up, and its turn is not lost', async () => {
    const logins = gatedLogins(s);
    const first = openWith(s.url, 'agents', bots[0].token);
    const second = openWith(s.url, 'agents', bots[1].token);
    await eventually(() => logins.held === 2);
    // A third waits behind them, then leaves.
    const quitter = io(`${s.url}/agents`, { auth: { token: bots[2].token }, transports: ['websocket'], reconnection: false, forceNew: true });
    await eventually(async () => (await waitingGauge(s)) === 1);
    const engine = s.app.hub.io.engine;
    const before = engine.clientsCount;
    quitter.disconnect();
    await eventually(() => engine.clientsCount === before - 1);
    logins.release();
    logins.release();
    expect((await Promise.all([first, second])).every((c) => c.socket.connected)).toBe(true);
    await sleep(300);
    expect(logins.spy).toHaveBeenCalledTimes(2);
    expect(await waitingGauge(s)).toBe(0);
    // Both turns are free: the next two start their look-ups at once.
    const next = [openWith(s.url, 'agents', bots[3].token), openWith(s.url, 'agents', bots[4].token)];
    await eventually(() => logins.held === 2);
    logins.release();
    logins.release();
    expect((await Promise.all(next)).every((c) => c.socket.connected)).toBe(true);
    expect(logins.spy.mock.calls.map(([token]) => token).sort()).toEqual([bots[0], bots[1], bots[3], bots[4]].map((b) => b.token).sort());
  });
});

describe('a look-up that hangs (HANDSHAKE_CONCURRENCY=1)', () => {
  let s: TestApp;
  afterEach(() => {
    jest.restoreAllMocks();
    closeAll();
  });
  afterAll(() => s?.close());

  it('gives its turn up after 10 s: the next handshake, a person on /chat, still gets in', async () => {
    s = await startTestApp({ env: { HANDSHAKE_CONCURRENCY: '1' } });
    const bot = await createAgent(s.api, s.adminToken, 'hung-bot');
    const logins = gatedLogins(s); // never released: a database call that does not answer
    void openWith(s.url, 'agents', bot.token).catch(() => undefined);
    await eventually(() => logins.held === 1);
    const started = Date.now();
    const admin = openWith(s.url, 'chat', s.adminToken);
    await sleep(2_000);
    expect(await waitingGauge(s)).toBe(1); // still waiting behind the hung one
    const chat = await admin;
    expect(chat.socket.connected).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
    expect(await waitingGauge(s)).toBe(0);
    logins.release();
  }, 20_000);
});

describe('handshake turns off (HANDSHAKE_CONCURRENCY=0)', () => {
  let s: TestApp;
  afterEach(() => {
    jest.restoreAllMocks();
    closeAll();
  });
  afterAll(() => s?.close());

  it('identifies every handshake at once', async () => {
    s = await startTestApp({ env: { HANDSHAKE_CONCURRENCY: '0' } });
    const bots = [];
    for (const i of times(5, (i) => i)) bots.push(await createAgent(s.api, s.adminToken, `free-bot-${i}`));
    const logins = gatedLogins(s);
    const connecting = bots.map((b) => openWith(s.url, 'agents', b.token));
    await eventually(() => logins.held === 5);
    expect(await waitingGauge(s)).toBe(0);
    for (let i = 0; i < 5; i++) logins.release();
    expect((await Promise.all(connecting)).every((c) => c.socket.connected)).toBe(true);
  });
});

describe('HandshakeTurns', () => {
  const deferred = () => {
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };

  it('runs at most `limit` at once and the rest in arrival order, failures included', async () => {
    const turns = new HandshakeTurns(2);
    const started: number[] = [];
    const works = times(6, () => deferred());
    const results = works.map((w, i) =>
      turns.take(async () => {
        started.push(i);
        await w.promise;
        return i;
      }),
    );
    await sleep(0);
    expect(started).toEqual([0, 1]);
    expect(turns.waiting).toBe(4);
    works[1].reject(new Error('boom'));
    await expect(results[1]).rejects.toThrow('boom');
    await sleep(0);
    expect(started).toEqual([0, 1, 2]);
    works[0].resolve();
    await sleep(0);
    expect(started).toEqual([0, 1, 2, 3]);
    for (const w of works.slice(2)) w.resolve();
    expect(await Promise.all([results[0], ...results.slice(2)])).toEqual([0, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(turns.waiting).toBe(0);
    // The turns are free again: two more start at once.
    const again = times(2, () => deferred());
    const more: number[] = [];
    const done = again.map((w, i) => turns.take(async () => (more.push(i), await w.promise)));
    await sleep(0);
    expect(more).toEqual([0, 1]);
    for (const w of again) w.resolve();
    await Promise.all(done);
  });

  it('passes a turn on after holdMs when its work hangs, and only once when the work settles later', async () => {
    const turns = new HandshakeTurns(1, 50);
    const hung = deferred();
    const order: string[] = [];
    const first = turns.take(async () => (order.push('hung'), await hung.promise));
    const second = turns.take(async () => void order.push('second'));
    await sleep(10);
    expect(order).toEqual(['hung']);
    await second; // after ~50 ms, without the first having settled
    expect(order).toEqual(['hung', 'second']);
    hung.resolve();
    await first;
    // One turn, not two: a third and a fourth still go one at a time.
    const gate = deferred();
    const started: number[] = [];
    const third = turns.take(async () => (started.push(3), await gate.promise));
    const fourth = turns.take(async () => void started.push(4));
    await sleep(10);
    expect(started).toEqual([3]);
    gate.resolve();
    await Promise.all([third, fourth]);
    expect(started).toEqual([3, 4]);
  });

  it('with limit 0, runs everything at once', async () => {
    const turns = new HandshakeTurns(0);
    const works = times(50, () => deferred());
    let running = 0;
    const results = works.map((w) => turns.take(async () => (running++, await w.promise)));
    await sleep(0);
    expect(running).toBe(50);
    expect(turns.waiting).toBe(0);
    for (const w of works) w.resolve();
    await Promise.all(results);
  });
});
