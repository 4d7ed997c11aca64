import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { LoadEvent, LoadRequest, PairSpec, SliceReport, TargetName } from '../throughput-worker';
import { sleep } from './stats';

type SliceRequest = Omit<Extract<LoadRequest, { cmd: 'slice' }>, 'cmd' | 'tag'>;

/** One slice over every worker, merged: the workers' reports added up. */
export type MergedSlice = Omit<SliceReport, 'type'>;

/**
 * The load-generator processes of bench/throughput.ts (dist/bench/throughput-worker.js): each holds a
 * share of the pairs on every server, and all of them drive the same server during a slice.
 */
export class LoadWorkers {
  private readonly children: ChildProcess[];
  private sliceNo = 0;

  constructor(count: number) {
    this.children = Array.from({ length: count }, () =>
      fork(join(__dirname, '..', 'throughput-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!);
  }

  /** Connects the pairs of `target`, dealt round-robin to the workers; resolves when all are in. */
  async connect(target: TargetName, url: string, pairs: PairSpec[]): Promise<void> {
    await Promise.all(
      this.children.map((child, w) => {
        const share = pairs.filter((_, i) => i % this.children.length === w);
        return this.request(child, { cmd: 'connect', target, url, pairs: share }, (e) => e.type === 'connected');
      }),
    );
  }

  /** Runs one slice on every worker at once and merges their reports. */
  async slice(req: SliceRequest): Promise<MergedSlice> {
    const no = ++this.sliceNo;
    const reports = await Promise.all(
      this.children.map(
        (child, w) =>
          this.request(child, { cmd: 'slice', ...req, tag: `s${no}w${w}` }, (e) => e.type === 'slice') as Promise<SliceReport>,
      ),
    );
    const merged: MergedSlice = { sent: 0, delivered: 0, deliveredInTime: 0, refused: {}, e2e: [], ack: [], timedOut: false };
    for (const r of reports) {
      merged.sent += r.sent;
      merged.delivered += r.delivered;
      merged.deliveredInTime += r.deliveredInTime;
      for (const [code, n] of Object.entries(r.refused)) merged.refused[code] = (merged.refused[code] ?? 0) + n;
      for (const v of r.e2e) merged.e2e.push(v);
      for (const v of r.ack) merged.ack.push(v);
      merged.timedOut ||= r.timedOut;
    }
    return merged;
  }

  async stop(): Promise<void> {
    for (const c of this.children) if (c.connected) c.send({ cmd: 'exit' } satisfies LoadRequest);
    await sleep(300);
    for (const c of this.children) c.kill('SIGKILL');
  }

  private request(child: ChildProcess, req: LoadRequest, isAnswer: (e: LoadEvent) => boolean): Promise<LoadEvent> {
    return new Promise((resolve, reject) => {
      const onMessage = (e: LoadEvent) => {
        if (e.type === 'error') reject(new Error(`load worker: ${e.message}`));
        else if (!isAnswer(e)) return;
        else resolve(e);
        cleanup();
      };
      const onExit = (code: number | null) => {
        reject(new Error(`load worker exited (${code})`));
        cleanup();
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(req);
    });
  }
}
