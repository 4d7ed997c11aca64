/**
 * Child-process entry of bench/agents.ts: holds a share of the agents' sockets, spread over the
 * loopback source addresses it is given, and records which agents received the routability probe.
 * Driven over IPC by the parent; not meant to be started by hand.
 */
import type { Socket } from 'socket.io-client';
import { connectSocket } from './lib/clients';

export type WorkerRequest =
  | { cmd: 'connect'; url: string; agents: { id: number; token: string }[]; addresses: string[]; concurrency: number }
  | { cmd: 'halt' }
  | { cmd: 'probe'; tag: string }
  | { cmd: 'report' }
  | { cmd: 'exit' };

export type WorkerEvent =
  | { type: 'progress'; connected: number; failed: number; errors: Record<string, number>; done: boolean }
  | { type: 'report'; reached: number[]; latencies: number[]; disconnected: number; connectedIds: number[] };

const sockets: Socket[] = [];
const connectedIds: number[] = [];
let connected = 0;
let failed = 0;
let disconnected = 0;
const errors: Record<string, number> = {};
let probeTag: string | undefined;
let halted = false;
const reached = new Map<number, number>();

const send = (e: WorkerEvent) => process.send!(e);

async function connectAll(req: Extract<WorkerRequest, { cmd: 'connect' }>): Promise<void> {
  let next = 0;
  const ticker = setInterval(() => send({ type: 'progress', connected, failed, errors, done: false }), 1000);
  const runner = async () => {
    while (next < req.agents.length && !halted) {
      const i = next++;
      const agent = req.agents[i];
      try {
        const socket = await connectSocket(req.url, '/agents', agent.token ? { token: agent.token } : { id: agent.id }, { localAddress: req.addresses[i % req.addresses.length], timeoutMs: 60_000 });
        socket.on('message', (env: { type?: string; payload?: { probe?: string; t?: number } }) => {
          if (probeTag && env?.type === 'CHAT' && env.payload?.probe === probeTag && !reached.has(agent.id)) {
            reached.set(agent.id, performance.timeOrigin + performance.now() - (env.payload.t ?? 0));
          }
        });
        socket.on('disconnect', () => disconnected++);
        sockets.push(socket);
        connectedIds.push(agent.id);
        connected++;
      } catch (err) {
        failed++;
        const key = err instanceof Error ? err.message : String(err);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: req.concurrency }, runner));
  clearInterval(ticker);
  send({ type: 'progress', connected, failed, errors, done: true });
}

process.on('message', (req: WorkerRequest) => {
  switch (req.cmd) {
    case 'connect':
      void connectAll(req);
      break;
    case 'halt':
      halted = true;
      break;
    case 'probe':
      probeTag = req.tag;
      reached.clear();
      break;
    case 'report':
      send({ type: 'report', reached: [...reached.keys()], latencies: [...reached.values()], disconnected, connectedIds });
      break;
    case 'exit':
      for (const s of sockets) s.disconnect();
      setTimeout(() => process.exit(0), 200);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
