/**
 * Child-process entry of bench/throughput.ts: one load-generator process. It holds its share of the
 * member<->agent pairs on every server under test (both up at once) and, when told, drives a closed
 * loop of CHATs against one of them for one time slice, then stops sending, waits for what is in
 * flight, and reports. Both sockets of a pair live in the same worker, so `performance.now()` in the
 * payload is a common clock for the latency. Driven over IPC by the parent; not meant to be started by hand.
 */
import type { Socket } from 'socket.io-client';
import { connectSocket } from './lib/clients';
import { sentAt } from './lib/workload';

export type TargetName = 'echocenter' | 'relay';

/** A principal as the parent made it: its user id and the `auth` object of its handshake. */
export interface PartySpec {
  id: number;
  auth: Record<string, unknown>;
}

export interface PairSpec {
  member: PartySpec;
  agent: PartySpec;
}

export type PayloadKind = 'string' | 'object';

export type LoadRequest =
  | { cmd: 'connect'; target: TargetName; url: string; pairs: PairSpec[] }
  | {
      cmd: 'slice';
      target: TargetName;
      /** Sends new messages for this long, then only waits for the ones in flight (at most `drainMs`). */
      ms: number;
      drainMs: number;
      window: number;
      tag: string;
      payloadKind: PayloadKind;
      payloadBytes: number;
      localIds: boolean;
    }
  | { cmd: 'exit' };

export interface SliceReport {
  type: 'slice';
  sent: number;
  /** Received by their target socket, in all… */
  delivered: number;
  /** …and before the slice's sending time was over (the steady-state part). */
  deliveredInTime: number;
  refused: Record<string, number>;
  /** Send to receipt at the target, and send to the sender's ack, in ms. */
  e2e: number[];
  ack: number[];
  timedOut: boolean;
}

export type LoadEvent = { type: 'connected'; target: TargetName } | SliceReport | { type: 'error'; message: string };

interface Sender {
  from: Socket;
  toId: number;
  inFlight: number;
}

/** What a receiving socket hands a delivered message to: the slice that is running, if any. */
let onDelivery: ((payload: unknown) => void) | undefined;
const senders = new Map<TargetName, Sender[]>();
const sockets: Socket[] = [];
const send = (e: LoadEvent) => process.send!(e);

async function connect(req: Extract<LoadRequest, { cmd: 'connect' }>): Promise<void> {
  const list: Sender[] = [];
  for (const pair of req.pairs) {
    const member = await connectSocket(req.url, '/chat', pair.member.auth);
    const agent = await connectSocket(req.url, '/agents', pair.agent.auth);
    for (const s of [member, agent]) {
      sockets.push(s);
      s.on('message', (env: { type?: string; payload?: unknown }) => {
        if (env?.type === 'CHAT') onDelivery?.(env.payload);
      });
    }
    list.push({ from: member, toId: pair.agent.id, inFlight: 0 }, { from: agent, toId: pair.member.id, inFlight: 0 });
  }
  senders.set(req.target, list);
  send({ type: 'connected', target: req.target });
}

function runSlice(req: Extract<LoadRequest, { cmd: 'slice' }>): Promise<SliceReport> {
  // In-flight counts of this slice only: a late ack of a timed-out slice must not shrink the next one's window.
  const list = (senders.get(req.target) ?? []).map((s) => ({ ...s, inFlight: 0 }));
  const pad = 'x'.repeat(req.payloadBytes);
  const report: SliceReport = { type: 'slice', sent: 0, delivered: 0, deliveredInTime: 0, refused: {}, e2e: [], ack: [], timedOut: false };
  let acked = 0;
  let sending = true;
  const sendingEnds = performance.now() + req.ms;
  return new Promise((resolve) => {
    const done = (timedOut: boolean) => {
      clearTimeout(stopTimer);
      clearTimeout(drainTimer);
      onDelivery = undefined;
      report.timedOut = timedOut;
      resolve(report);
    };
    const check = () => {
      if (!sending && acked === report.sent && report.delivered + countRefused() >= report.sent) done(false);
    };
    const countRefused = () => Object.values(report.refused).reduce((a, b) => a + b, 0);
    onDelivery = (payload) => {
      const t = sentAt(payload, req.tag);
      if (t === undefined) return;
      const now = performance.now();
      report.e2e.push(now - t);
      report.delivered++;
      if (now <= sendingEnds) report.deliveredInTime++;
      check();
    };
    const pump = (s: Sender) => {
      while (sending && s.inFlight < req.window) {
        s.inFlight++;
        const n = ++report.sent;
        const t = performance.now();
        const payload = req.payloadKind === 'string' ? `${req.tag}|${t}|${pad}` : { tag: req.tag, t, pad };
        const envelope = { type: 'CHAT', target_id: s.toId, ...(req.localIds ? { local_id: `${req.tag}-${n}` } : {}), payload };
        s.from.emit('message', envelope, (a: { ok?: boolean; code?: string }) => {
          acked++;
          report.ack.push(performance.now() - t);
          s.inFlight--;
          if (!a?.ok) report.refused[a?.code ?? 'NO_ACK'] = (report.refused[a?.code ?? 'NO_ACK'] ?? 0) + 1;
          pump(s);
          check();
        });
      }
    };
    const stopTimer = setTimeout(() => {
      sending = false;
      check();
    }, req.ms);
    const drainTimer = setTimeout(() => done(true), req.ms + req.drainMs);
    for (const s of list) pump(s);
  });
}

process.on('message', (req: LoadRequest) => {
  switch (req.cmd) {
    case 'connect':
      connect(req).catch((err) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
      break;
    case 'slice':
      void runSlice(req).then(send);
      break;
    case 'exit':
      for (const s of sockets) s.disconnect();
      setTimeout(() => process.exit(0), 200);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
