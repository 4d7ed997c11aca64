/**
 * A client for the fault tests that behaves like a careful production client: socket.io-client with
 * reconnection on, an `auth` *function* that sends the highest id it has seen as `last_id` on every
 * (re)connect, and a list of replica URLs it moves along when its replica refuses or drops it.
 * It records every stored message it receives (to find losses, duplicates and order breaks) and
 * every ack of what it sent.
 */
import { Client } from 'pg';
import { io, type Socket } from 'socket.io-client';
import type { Ack, Envelope } from '../../src/shared/protocol';
import { sleep } from '../support';

export interface Sent {
  id: number;
  targetId: number;
  payload: string;
  /** The replica URL the sender was connected to. */
  via: string;
}

export class Roamer {
  /** Message id → how many times it was delivered to this client (any of its successive sockets). */
  readonly deliveries = new Map<number, number>();
  /** Ids in arrival order. */
  readonly order: number[] = [];
  /** Every envelope received, in arrival order. */
  readonly received: Envelope[] = [];
  /** The highest id received: the replay cursor. */
  lastId = 0;
  readonly acked: Sent[] = [];
  /** Acks with ok:false, and sends that got no ack (timeout or disconnect) — these may or may not be stored. */
  readonly refused: Ack[] = [];
  unacked = 0;
  /** Milliseconds from emit to ack, for every ok ack (diagnostics only, never asserted). */
  readonly ackMs: number[] = [];
  /** URLs of every successful connect, in order. */
  readonly visits: string[] = [];
  private socket: Socket | undefined;
  private index: number;
  /** Set by close(); traffic loops stop on it, so a failed test cannot leave timers running. */
  closed = false;
  private seq = 0;

  constructor(
    readonly name: string,
    readonly nsp: 'chat' | 'agents',
    readonly userId: number,
    private readonly token: string,
    private readonly urls: string[],
    start = 0,
  ) {
    this.index = start;
  }

  get url(): string {
    return this.urls[this.index % this.urls.length];
  }

  get connected(): boolean {
    return !!this.socket?.connected;
  }

  /** Opens the first socket and waits until it is connected. */
  async start(timeoutMs = 10_000): Promise<this> {
    this.open();
    await this.whenConnected(timeoutMs);
    return this;
  }

  async whenConnected(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected) {
      if (Date.now() > deadline) throw new Error(`${this.name} did not connect within ${timeoutMs} ms (at ${this.url})`);
      await sleep(20);
    }
  }

  private open(): void {
    const url = this.url;
    const socket = io(`${url}/${this.nsp}`, {
      auth: (cb) => cb({ token: this.token, last_id: this.lastId }),
      transports: ['websocket'],
      forceNew: true,
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 300,
      timeout: 3_000,
    });
    this.socket = socket;
    socket.on('connect', () => this.visits.push(url));
    socket.on('message', (e: Envelope) => this.record(e));
    // A refused or failed (re)connect: try the next replica. A server-side disconnect (shutdown,
    // revoke) gets no automatic reconnect from socket.io-client: move on as well.
    socket.on('connect_error', () => this.roam(socket));
    socket.on('disconnect', (reason) => reason === 'io server disconnect' && this.roam(socket));
  }

  private roam(from: Socket): void {
    if (this.closed || from !== this.socket) return;
    from.removeAllListeners();
    from.disconnect();
    this.socket = undefined;
    this.index++;
    setTimeout(() => !this.closed && !this.socket && this.open(), 100);
  }

  private record(e: Envelope): void {
    this.received.push(e);
    if (typeof e.id !== 'number') return;
    this.deliveries.set(e.id, (this.deliveries.get(e.id) ?? 0) + 1);
    this.order.push(e.id);
    if (e.id > this.lastId) this.lastId = e.id;
  }

  /** Sends one CHAT (only while connected) and records its ack. */
  async send(targetId: number, timeoutMs = 8_000): Promise<void> {
    const socket = this.socket;
    if (!socket?.connected) return;
    const payload = `${this.name}#${++this.seq}`;
    const via = this.url;
    const t0 = performance.now();
    try {
      const ack: Ack = await socket.timeout(timeoutMs).emitWithAck('message', { type: 'CHAT', target_id: targetId, payload, local_id: payload });
      if (ack.ok) {
        this.acked.push({ id: ack.id!, targetId, payload, via });
        this.ackMs.push(performance.now() - t0);
      }
      else this.refused.push(ack);
    } catch {
      this.unacked++;
    }
  }

  close(): void {
    this.closed = true;
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = undefined;
  }
}

/**
 * Every sender sends in a loop, one message at a time (it waits for the ack), cycling through its
 * targets, until the returned stop() is awaited. One loop per socket keeps under SOCKET_RATE_LIMIT.
 */
export function traffic(senders: [Roamer, Roamer[]][], pauseMs = 30): { stop(): Promise<void> } {
  let running = true;
  const loops = senders.map(async ([from, targets]) => {
    for (let i = 0; running && !from.closed; i++) {
      await from.send(targets[i % targets.length].userId);
      await sleep(pauseMs);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * The fault tests' cast of two members and two agents ([m0, a0, m1, a1]), each sending to the others
 * across replicas: m0 → a1, m1; a0 → m1; m1 → a0, m0; a1 → m0.
 */
export function crossTraffic([m0, a0, m1, a1]: Roamer[]): ReturnType<typeof traffic> {
  return traffic([
    [m0, [a1, m1]],
    [a0, [m1]],
    [m1, [a0, m0]],
    [a1, [m0]],
  ]);
}

/** Nothing refused, and every acked message reached its target once, in id order. */
export function expectDeliveredOnceInOrder(clients: Roamer[], l: Ledger): void {
  expect(clients.flatMap((c) => c.refused)).toEqual([]);
  expect(l.lost).toEqual([]);
  expect(l.duplicated).toEqual([]);
  expect(l.outOfOrder).toEqual([]);
}

/** How many sends of these clients were acked so far. */
export const ackedCount = (clients: Roamer[]) => clients.reduce((n, c) => n + c.acked.length, 0);

/**
 * Waits until these clients have `n` acked sends in all (traffic keeps flowing), so that a test
 * does not depend on how fast a loaded machine is.
 */
export async function untilAcked(clients: Roamer[], n: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (ackedCount(clients) < n) {
    if (Date.now() > deadline) throw new Error(`only ${ackedCount(clients)} of ${n} sends acked within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** "p50/p99/max" of the ack latencies of these clients, in ms (for the test's log line). */
export function ackLatency(clients: Roamer[]): string {
  const all = clients.flatMap((c) => c.ackMs).sort((a, b) => a - b);
  const at = (q: number) => (all.length ? all[Math.min(all.length - 1, Math.floor(q * all.length))].toFixed(0) : '-');
  return `ack p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
}

export interface Ledger {
  acked: number;
  /** Acked messages their target has not received. */
  lost: string[];
  /** Ids a client received more than once. */
  duplicated: string[];
  /** Ids a client received after a higher id (the design promises id order). */
  outOfOrder: string[];
}

/** Checks every acked message of `clients` against what its target received. */
export function ledger(clients: Roamer[]): Ledger {
  const byUser = new Map(clients.map((c) => [c.userId, c]));
  const out: Ledger = { acked: 0, lost: [], duplicated: [], outOfOrder: [] };
  for (const c of clients) {
    for (const s of c.acked) {
      out.acked++;
      const target = byUser.get(s.targetId);
      if (!target) throw new Error(`no client for target ${s.targetId}`);
      if (!target.deliveries.has(s.id)) out.lost.push(`${s.payload} (id ${s.id}, via ${s.via}) → ${target.name}`);
    }
    for (const [id, n] of c.deliveries) if (n > 1) out.duplicated.push(`${c.name} got id ${id} ${n} times`);
    c.order.forEach((id, i) => {
      if (i > 0 && id <= c.order[i - 1]) out.outOfOrder.push(`${c.name} got id ${id} after ${c.order[i - 1]}`);
    });
  }
  return out;
}

/** Ids some client received after a higher id (late deliveries), for tests where the design allows a few. */
export function lateIds(clients: Roamer[]): number[] {
  return clients.flatMap((c) => {
    let max = 0;
    return c.order.filter((id) => {
      const late = id < max;
      max = Math.max(max, id);
      return late;
    });
  });
}

/** The highest id acked to any of these clients so far (0 before the first ack). */
export const maxAckedId = (clients: Roamer[]) => clients.reduce((m, c) => c.acked.reduce((n, s) => Math.max(n, s.id), m), 0);

/** Waits until every acked message has reached its target (or the time is up), then returns the ledger. */
export async function settle(clients: Roamer[], timeoutMs: number): Promise<Ledger> {
  const deadline = Date.now() + timeoutMs;
  let l = ledger(clients);
  while (l.lost.length && Date.now() < deadline) {
    await sleep(100);
    l = ledger(clients);
  }
  return l;
}

/** The stored rows of these ids, read straight from PostgreSQL. */
export async function storedRows(databaseUrl: string, ids: number[]): Promise<Map<number, { targetId: number | null; payload: string }>> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query('select id, target_id, payload from chat_messages where id = any($1::int[])', [ids]);
    return new Map(rows.map((r) => [Number(r.id), { targetId: r.target_id === null ? null : Number(r.target_id), payload: JSON.parse(r.payload) }]));
  } finally {
    await client.end();
  }
}

/** Asserts that every acked message is stored with its target and payload. */
export async function expectAllStored(databaseUrl: string, clients: Roamer[]): Promise<void> {
  const sent = clients.flatMap((c) => c.acked);
  const rows = await storedRows(databaseUrl, sent.map((s) => s.id));
  const missing = sent.filter((s) => {
    const row = rows.get(s.id);
    return !row || row.targetId !== s.targetId || row.payload !== s.payload;
  });
  expect(missing).toEqual([]);
}

/**
 * Every stored message addressed to one of `clients`, acked or not (a shutdown can cut an ack off
 * after the commit), must have reached its target: the ids that did not, as "id → name".
 */
export async function storedButUndelivered(databaseUrl: string, clients: Roamer[]): Promise<string[]> {
  const byUser = new Map(clients.map((c) => [c.userId, c]));
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query('select id, target_id from chat_messages where target_id = any($1::int[]) order by id', [[...byUser.keys()]]);
    return rows.filter((r) => !byUser.get(Number(r.target_id))!.deliveries.has(Number(r.id))).map((r) => `${r.id} → ${byUser.get(Number(r.target_id))!.name}`);
  } finally {
    await client.end();
  }
}
