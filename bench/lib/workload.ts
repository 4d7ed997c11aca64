import type { Socket } from 'socket.io-client';
import { Samples } from './stats';

/** One connected principal: a member on `/chat` or an agent on `/agents`. */
export interface Party {
  id: number;
  socket: Socket;
}

/** A member and the agent it talks to; both send to each other. */
export interface Pair {
  member: Party;
  agent: Party;
}

export interface RunResult {
  sent: number;
  delivered: number;
  refused: Map<string, number>;
  /** Send (or scheduled send) to receipt at the target socket. */
  e2e: ReturnType<Samples['summary']>;
  /** Send to ack at the sender (the commit, for EchoCenter). */
  ack: ReturnType<Samples['summary']>;
  /** First send to last receipt. */
  elapsedMs: number;
  msgsPerSec: number;
  timedOut: boolean;
}

interface Sender {
  from: Party;
  to: Party;
  sent: number;
  inFlight: number;
}

interface Probe {
  tag: string;
  t: number;
  pad: string;
}

/**
 * Drives CHAT traffic between the pairs, member → agent and agent → member, and records latencies.
 * Sender and receiver are in this process, so `performance.now()` in the payload is a common clock.
 */
export class Workload {
  private readonly senders: Sender[];
  private runCount = 0;

  constructor(
    pairs: Pair[],
    private readonly opts: { payloadBytes: number; localIds: boolean; payloadKind?: 'string' | 'object' },
  ) {
    this.senders = pairs.flatMap((p) => [
      { from: p.member, to: p.agent, sent: 0, inFlight: 0 },
      { from: p.agent, to: p.member, sent: 0, inFlight: 0 },
    ]);
  }

  get senderCount(): number {
    return this.senders.length;
  }

  /** Closed loop: each socket keeps `window` un-acked messages until it has sent `perSender`. */
  closedLoop(perSender: number, window: number, timeoutMs: number): Promise<RunResult> {
    return this.run(this.senders.length * perSender, timeoutMs, (send, finishedSending) => {
      for (const s of this.senders) {
        s.sent = 0;
        s.inFlight = 0;
      }
      const pump = (s: Sender) => {
        while (s.inFlight < window && s.sent < perSender) {
          s.inFlight++;
          s.sent++;
          send(s, performance.now(), () => {
            s.inFlight--;
            pump(s);
          });
        }
      };
      for (const s of this.senders) pump(s);
      finishedSending();
      return () => undefined;
    });
  }

  /**
   * Open loop at `rate` messages/s in total for `durationMs`, round-robin over the senders. Latency is
   * measured from the *scheduled* send time, so a stalled server cannot hide its backlog.
   */
  fixedRate(rate: number, durationMs: number, timeoutMs: number): Promise<RunResult> {
    const total = Math.round((rate * durationMs) / 1000);
    return this.run(total, timeoutMs, (send, finishedSending) => {
      const interval = 1000 / rate;
      const start = performance.now();
      let k = 0;
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
        for (; k < due; k++) send(this.senders[k % this.senders.length], start + k * interval, () => undefined);
        if (k >= total) {
          clearInterval(timer);
          finishedSending();
        }
      }, 1);
      return () => clearInterval(timer);
    });
  }

  private run(
    total: number,
    timeoutMs: number,
    start: (send: (s: Sender, t: number, onAck: () => void) => void, finishedSending: () => void) => () => void,
  ): Promise<RunResult> {
    const tag = `r${++this.runCount}-${Math.random().toString(36).slice(2, 8)}`;
    const pad = 'x'.repeat(this.opts.payloadBytes);
    const e2e = new Samples();
    const ack = new Samples();
    const refused = new Map<string, number>();
    let sent = 0;
    let delivered = 0;
    let refusedCount = 0;
    let acked = 0;
    let lastReceive = 0;
    const t0 = performance.now();

    return new Promise((resolve) => {
      let stop: () => void = () => undefined;
      let sendingDone = false;
      const finish = (timedOut: boolean) => {
        clearTimeout(timer);
        stop();
        for (const s of this.senders) s.to.socket.off('message', onMessage);
        const elapsedMs = (lastReceive || performance.now()) - t0;
        resolve({ sent, delivered, refused, e2e: e2e.summary(), ack: ack.summary(), elapsedMs, msgsPerSec: (delivered / elapsedMs) * 1000, timedOut });
      };
      const check = () => {
        if (sendingDone && sent === total && acked === sent && delivered + refusedCount >= sent) finish(false);
      };
      const onMessage = (env: { type?: string; payload?: Probe | string }) => {
        if (env?.type !== 'CHAT') return;
        const t = sentAt(env.payload, tag);
        if (t === undefined) return;
        lastReceive = performance.now();
        e2e.add(lastReceive - t);
        delivered++;
        check();
      };
      for (const party of new Set(this.senders.map((s) => s.to))) party.socket.on('message', onMessage);
      const timer = setTimeout(() => finish(true), timeoutMs);

      const send = (s: Sender, t: number, onAck: () => void) => {
        const n = ++sent;
        const envelope = {
          type: 'CHAT',
          target_id: s.to.id,
          ...(this.opts.localIds ? { local_id: `${tag}-${n}` } : {}),
          payload: this.opts.payloadKind === 'string' ? `${tag}|${t}|${pad}` : ({ tag, t, pad } satisfies Probe),
        };
        s.from.socket.emit('message', envelope, (a: { ok: boolean; code?: string }) => {
          acked++;
          ack.add(performance.now() - t);
          if (!a?.ok) {
            refusedCount++;
            refused.set(a?.code ?? 'NO_ACK', (refused.get(a?.code ?? 'NO_ACK') ?? 0) + 1);
          }
          onAck();
          check();
        });
      };
      stop = start(send, () => {
        sendingDone = true;
        check();
      });
    });
  }
}

/** The send time a probe payload of run `tag` carries: `{tag, t, pad}` or the string `<tag>|<t>|<pad>`. */
export function sentAt(payload: unknown, tag: string): number | undefined {
  if (typeof payload === 'string') {
    if (!payload.startsWith(tag) || payload.charCodeAt(tag.length) !== 124 /* | */) return undefined;
    return Number(payload.slice(tag.length + 1, payload.indexOf('|', tag.length + 1)));
  }
  const p = payload as Partial<Probe> | null | undefined;
  return p?.tag === tag ? p.t : undefined;
}
