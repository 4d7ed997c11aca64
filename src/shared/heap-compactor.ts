import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import type { Config } from '../config/config';
import type { Logger } from './logger';

/** The old generation as V8 reports it: what it reserves, and what objects use of that. */
export interface OldSpace {
  reserved: number;
  used: number;
}

export interface HeapCompactorOptions {
  log: Logger;
  /** How often the heap and the event loop are looked at. */
  intervalMs?: number;
  /** Reserved and unused old-generation memory worth a compaction (both limits must be reached). */
  minWasteBytes?: number;
  minWasteShare?: number;
  /** The event loop counts as quiet below this utilization (0–1) over an interval… */
  maxUtilization?: number;
  /** …for this many intervals in a row. */
  quietIntervals?: number;
  /** At most one compaction in this long (doubled, up to 6 hours, after one that gave back little). */
  minGapMs?: number;
  /**
   * Never a pause expected to be longer than this: a stopped process cannot read Redis's replies, and
   * their timeout (3 s for any command; the published mark's 1 s only matters inside a message-log
   * group, see `canPause`) would count Redis as gone.
   */
  maxPauseMs?: number;
  /** Whether pausing now is harmless (the app: no message-log group in flight, which may hold the append lock). */
  canPause?: () => boolean;
  // Seams for tests.
  readOldSpace?: () => OldSpace;
  /** The event loop's utilization (0–1) since the previous call. */
  busySince?: () => number;
  compact?: () => Promise<void>;
  now?: () => number;
}

const MB = 1024 * 1024;
const MAX_GAP_MS = 6 * 3_600_000;
/** Pause per MB of live old generation until one is measured (this 2-core machine: ~2.8 ms). */
const FIRST_GUESS_MS_PER_MB = 3;

/**
 * Gives back the memory that a burst of connections leaves behind, once the process is quiet.
 *
 * When thousands of clients connect at once (a deploy, a network blip: every agent reconnects), the
 * garbage of their handshakes outlives a couple of young-generation collections and dies in the old
 * generation, between the objects of the sockets that stay. V8's ordinary full collections only move
 * objects out of nearly empty pages, so the old generation keeps tens of megabytes of holes, counted in
 * RSS, and its memory reducer rarely runs on a server whose sockets' pings keep allocating. With 20,000
 * agents that was 10–59 MB from one run to the next (README → Benchmarks).
 *
 * So, when the old generation holds at least `minWasteBytes` (and `minWasteShare` of it) more than
 * its objects use, and the event loop has been quiet for `quietIntervals` looks in a row, this runs
 * the collection V8 runs under memory pressure: everything live is compacted into as few pages as
 * possible and the rest is returned to the system. It stops the process for a while (about 0.1 s per
 * 40 MB of live heap here), which is why it waits for a quiet moment with no message-log group in
 * flight (`canPause`), runs at most once per `minGapMs`, backs off when a run gave back little, and
 * never starts one expected to take longer than `maxPauseMs` (the first estimate is a guess; later
 * ones use the pause it measured). It uses the in-process inspector (`HeapProfiler.collectGarbage`);
 * if that fails (a Node without an inspector), it says so once and stops.
 */
export class HeapCompactor {
  private readonly o: Required<Omit<HeapCompactorOptions, 'log'>>;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private quiet = 0;
  private lastCompactionAt = -Infinity;
  private running = false;
  /** Compaction failed once (no inspector): never again. */
  private unavailable = false;
  private gapMs: number;
  private msPerMb = FIRST_GUESS_MS_PER_MB;
  /** Compactions so far, and the last one (for the bench's report). */
  count = 0;
  last?: { pauseMs: number; before: OldSpace; after: OldSpace };

  constructor(options: HeapCompactorOptions) {
    this.log = options.log;
    this.o = {
      intervalMs: 2_000,
      minWasteBytes: 32 * MB,
      minWasteShare: 0.1,
      maxUtilization: 0.25,
      quietIntervals: 2,
      minGapMs: 10 * 60_000,
      maxPauseMs: 1_000,
      canPause: () => true,
      readOldSpace,
      busySince: eventLoopBusy(),
      compact: compactWithInspector,
      now: () => performance.now(),
      ...stripUndefined(options),
    };
    this.gapMs = this.o.minGapMs;
  }

  start(): void {
    this.o.busySince();
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look: compacts when the heap is worth it and the process has been quiet. Resolves when done. */
  async check(): Promise<boolean> {
    this.quiet = this.o.busySince() <= this.o.maxUtilization ? this.quiet + 1 : 0;
    if (this.unavailable || this.running || this.quiet < this.o.quietIntervals) return false;
    if (this.o.now() - this.lastCompactionAt < this.gapMs) return false;
    const before = this.o.readOldSpace();
    const waste = before.reserved - before.used;
    if (waste < this.o.minWasteBytes || waste < before.reserved * this.o.minWasteShare) return false;
    if ((before.used / MB) * this.msPerMb > this.o.maxPauseMs) return false;
    if (!this.o.canPause()) return false;

    this.running = true;
    this.lastCompactionAt = this.o.now();
    try {
      const started = this.o.now();
      await this.o.compact();
      const pauseMs = Math.round(this.o.now() - started);
      const after = this.o.readOldSpace();
      this.count++;
      this.last = { pauseMs, before, after };
      if (after.used > 0) this.msPerMb = pauseMs / (after.used / MB);
      // A run that gave back little says the holes come back by themselves: look less often.
      this.gapMs = before.reserved - after.reserved < this.o.minWasteBytes ? Math.min(this.gapMs * 2, MAX_GAP_MS) : this.o.minGapMs;
      this.log.info(
        { before: inMb(before), after: inMb(after), pauseMs },
        'compacted the heap: the old generation had room left behind by a burst of short-lived objects',
      );
      return true;
    } catch (err) {
      this.log.warn({ err }, 'heap compaction is not available here; turning it off');
      this.unavailable = true;
      this.stop();
      return false;
    } finally {
      this.running = false;
      this.quiet = 0;
      this.o.busySince(); // the compaction's own pause is not a busy interval
    }
  }
}

/**
 * Starts the compactor of the process when the configuration opts in (HEAP_COMPACTION=idle; the
 * default is off, since each run stops the whole process for a while).
 * Process-wide, so started by the process's entry point, not by the app (tests run several apps).
 */
export function startHeapCompaction(config: Pick<Config, 'heapCompaction'>, log: Logger, canPause?: () => boolean): HeapCompactor | undefined {
  if (config.heapCompaction !== 'idle') return undefined;
  const compactor = new HeapCompactor({ log: log.child({ module: 'heap' }), canPause });
  compactor.start();
  return compactor;
}

/** Event-loop utilization between calls (Node's ELU: the share of time not waiting for I/O). */
function eventLoopBusy(): () => number {
  let last: EventLoopUtilization | undefined;
  return () => {
    const now = performance.eventLoopUtilization();
    const busy = last ? performance.eventLoopUtilization(now, last).utilization : 0;
    last = now;
    return busy;
  };
}

function readOldSpace(): OldSpace {
  const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return { reserved: old?.space_size ?? 0, used: old?.space_used_size ?? 0 };
}

/**
 * V8's memory-reducing full collection (what it runs on a low-memory notification), reached through
 * the in-process inspector: the only public way to ask for it without `--expose-gc`.
 */
async function compactWithInspector(): Promise<void> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  try {
    await new Promise<void>((resolve, reject) => session.post('HeapProfiler.collectGarbage', (err) => (err ? reject(err) : resolve())));
  } finally {
    session.disconnect();
  }
}

function inMb(space: OldSpace): { reservedMb: number; usedMb: number } {
  return { reservedMb: Math.round(space.reserved / MB), usedMb: Math.round(space.used / MB) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'log')) as Partial<T>;
}
