import { IncomingMessage } from 'node:http';
import { Socket as TcpSocket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Socket } from 'socket.io';
import { io, Manager, type Socket as ClientSocket } from 'socket.io-client';
import { EngineIoInternals, forceEngineTuningOff } from '../../src/hub/engine-io.internals';
import type { Logger } from '../../src/shared/logger';
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, connect, createAgent, createHuman, startTestApp, type TestApp } from '../support';

// When engine.io's or ws's shapes differ from the pinned versions, the engine tuning of src/hub turns
// itself off (src/hub/engine-io.internals.ts) and everything a client sees stays the same: only memory
// per socket and writes per frame change.

function fakeLogger(): { log: Logger; warnings: unknown[][] } {
  const warnings: unknown[][] = [];
  return { log: { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger, warnings };
}

describe('engine.io internals probe', () => {
  it('a connection without a string session id: no id, one warning for the process', () => {
    const { log, warnings } = fakeLogger();
    const internals = new EngineIoInternals(log);
    expect(internals.sessionIdOf({ id: 'abc' })).toBe('abc');
    expect(warnings).toHaveLength(0);
    expect(internals.sessionIdOf({})).toBeUndefined();
    expect(internals.sessionIdOf({ id: 'later' })).toBeUndefined(); // off for good
    expect(warnings).toHaveLength(1);
  });

  it("an upgrade whose TCP socket got other than one close listener before the middlewares: nothing is removed, one warning, off for good", () => {
    const { log, warnings } = fakeLogger();
    const internals = new EngineIoInternals(log);
    const upgrade = () => {
      const tcp = new TcpSocket();
      tcp.on('close', () => {}); // one of the HTTP server's, say
      internals.upgradeArriving(tcp);
      return { tcp, req: { socket: tcp } as unknown as IncomingMessage };
    };

    const fits = upgrade();
    fits.tcp.once('close', () => {}); // the stand-in's
    internals.releaseUpgradeStandIn(fits.req);
    expect(fits.tcp.listenerCount('close')).toBe(1);
    const polling = new TcpSocket();
    polling.on('close', () => {});
    internals.releaseUpgradeStandIn({ socket: polling } as unknown as IncomingMessage); // never seen at an upgrade
    expect(polling.listenerCount('close')).toBe(1);
    expect(warnings).toHaveLength(0);

    const differs = upgrade();
    differs.tcp.on('close', () => {}).on('close', () => {});
    internals.releaseUpgradeStandIn(differs.req);
    expect(differs.tcp.listenerCount('close')).toBe(3);
    const later = upgrade();
    later.tcp.once('close', () => {});
    internals.releaseUpgradeStandIn(later.req);
    expect(later.tcp.listenerCount('close')).toBe(2);
    expect(warnings).toHaveLength(1);
  });
});

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
}

describe('with the engine tuning off (as after a failed probe)', () => {
  let s: TestApp;
  const managers: Manager[] = [];
  beforeAll(async () => {
    forceEngineTuningOff();
    s = await startTestApp();
  });
  afterAll(async () => {
    forceEngineTuningOff(false);
    for (const m of managers) m.engine?.close();
    closeAll();
    await s?.close();
  });

  it('routes CHATs with their acks, in order, to websocket and upgraded long-polling sockets, and replays', async () => {
    const member = await createHuman(s.api, s.adminToken, 'fallback-member');
    const agent = await createAgent(s.api, s.adminToken, 'fallback-agent');
    const m = await connect(s.url, 'chat', { token: member.token });
    const a = await connect(s.url, 'agents', { token: agent.token });
    const polling = io(`${s.url}/agents`, { auth: { token: agent.token }, transports: ['polling', 'websocket'], reconnection: false, forceNew: true });
    const viaPolling: Envelope[] = [];
    polling.on('message', (e: Envelope) => viaPolling.push(e));
    try {
      await connected(polling);
      const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => m.send({ type: 'CHAT', target_id: agent.agent.id, payload: i })));
      expect(acks.every((x) => x.ok)).toBe(true);
      const ids = acks.map((x) => (x as { id: number }).id);
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      await a.waitFor((e) => e.payload === 29);
      expect(a.received.filter((e) => typeof e.payload === 'number').map((e) => e.id)).toEqual(ids);
      for (const deadline = Date.now() + 5_000; viaPolling.length < 30 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      expect(viaPolling.map((e) => e.id)).toEqual(ids);

      const back = await a.send({ type: 'CHAT', target_id: member.user.id, payload: 'answer' });
      expect(back.ok).toBe(true);
      await m.waitFor((e) => e.payload === 'answer');

      // A reconnect with last_id gets what it missed, then replay:done.
      const replayer = await connect(s.url, 'agents', { token: agent.token, last_id: ids[9] });
      await replayer.waitFor((e) => e.id === ids[29]);
      expect(replayer.received.map((e) => e.id).filter((id) => id !== undefined && id <= ids[29])).toEqual(ids.slice(10));
    } finally {
      polling.disconnect();
    }
  });

  it('a second namespace still authenticates with the Authorization header', async () => {
    const manager = new Manager(s.url, { transports: ['websocket'], reconnection: false, extraHeaders: { Authorization: `Bearer ${s.adminToken}` } });
    managers.push(manager);
    const chat = manager.socket('/chat');
    await connected(chat);
    const monitor = manager.socket('/monitor');
    await connected(monitor);
    expect(monitor.connected).toBe(true);
  });

  it('is really off: frames are written one by one, and the upgrade request stays with its connection', async () => {
    const sender = await createHuman(s.api, s.adminToken, 'fallback-sender');
    const peer = await createHuman(s.api, s.adminToken, 'fallback-peer');
    let upgrade: WeakRef<IncomingMessage> | undefined;
    const engine = s.app.hub.io.engine;
    const onConnection = (conn: { request: IncomingMessage }) => (upgrade = new WeakRef(conn.request));
    engine.prependListener('connection', onConnection);
    const m = await connect(s.url, 'chat', { token: sender.token });
    const p = await connect(s.url, 'chat', { token: peer.token });
    engine.off('connection', onConnection);

    const server = s.app.hub.io.of('/chat').sockets.get(p.socket.id!) as Socket;
    const raw = (server.conn as unknown as { transport: { socket: { _socket: Record<string, (...a: unknown[]) => unknown> } } }).transport.socket._socket;
    let writes = 0;
    for (const method of ['_write', '_writev']) {
      const original = raw[method];
      raw[method] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
    await Promise.all(Array.from({ length: 20 }, (_, i) => m.send({ type: 'CHAT', target_id: peer.user.id, payload: i })));
    await p.waitFor((e) => e.payload === 19);
    expect(writes).toBeGreaterThan(10); // coalesced, a burst like this takes a few

    await new Promise((resolve) => setTimeout(resolve, 50));
    collectGarbage();
    expect(upgrade?.deref()).toBeInstanceOf(IncomingMessage);
  });
});
