import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { WorkerEvent, WorkerRequest } from '../agents-worker';
import { sleep } from './stats';

type Progress = Extract<WorkerEvent, { type: 'progress' }>;
type Report = Extract<WorkerEvent, { type: 'report' }>;

/** One client process of bench/agents.ts (dist/bench/agents-worker.js), driven over IPC. */
export interface AgentWorker {
  child: ChildProcess;
  /** The latest progress it reported (about once a second while connecting). */
  progress: Progress;
  send(req: WorkerRequest): Promise<void>;
  report(): Promise<Report>;
  /** Disconnects its sockets and ends the process. */
  stop(): Promise<void>;
}

export function startAgentWorker(): AgentWorker {
  const child = fork(join(__dirname, '..', 'agents-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const worker: AgentWorker = {
    child,
    progress: { type: 'progress', connected: 0, failed: 0, errors: {}, done: false },
    send: (req) => new Promise((resolve, reject) => child.send(req, (err) => (err ? reject(err) : resolve()))),
    report: () =>
      new Promise((resolve) => {
        const onReport = (e: WorkerEvent) => {
          if (e.type !== 'report') return;
          child.off('message', onReport);
          resolve(e);
        };
        child.on('message', onReport);
        child.send({ cmd: 'report' } satisfies WorkerRequest);
      }),
    stop: async () => {
      if (child.connected) child.send({ cmd: 'exit' } satisfies WorkerRequest);
      await sleep(300);
      child.kill('SIGKILL');
    },
  };
  child.on('message', (e: WorkerEvent) => {
    if (e.type === 'progress') worker.progress = e;
  });
  return worker;
}

/** Connected and failed agents over all workers, with the failures grouped by message. */
export function totals(workers: AgentWorker[]): { connected: number; failed: number; errors: Record<string, number> } {
  const errors: Record<string, number> = {};
  for (const w of workers) for (const [k, v] of Object.entries(w.progress.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    connected: workers.reduce((a, w) => a + w.progress.connected, 0),
    failed: workers.reduce((a, w) => a + w.progress.failed, 0),
    errors,
  };
}
