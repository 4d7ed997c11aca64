import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { loadConfig } from '../../src/config/config';
import { HeapCompactor, startHeapCompaction, type OldSpace } from '../../src/shared/heap-compactor';

// The process-wide heap compaction of src/main.ts (HEAP_COMPACTION): when it runs, and that what it
// runs really gives back a fragmented old generation.

const MB = 1024 * 1024;
const silent = pino({ level: 'silent' });

/** A compactor over a scripted process: event-loop utilization per look, the old space, a clock. */
function scripted(options: {
  utilization: number[];
  oldSpace: OldSpace;
  minGapMs?: number;
  /** The old space a compaction leaves (default: only what is used, reserved)… */
  after?: OldSpace;
  /** …and whether the holes come back by the next look (default: they do). */
  holesReturn?: boolean;
  pauseMs?: number;
  canPause?: () => boolean;
  fails?: boolean;
}) {
  let clock = 0;
  let oldSpace = options.oldSpace;
  let justAfter: OldSpace | undefined;
  const busy = [...options.utilization];
  const compactions: number[] = [];
  let attempts = 0;
  const compactor = new HeapCompactor({
    log: silent,
    minWasteBytes: 32 * MB,
    minWasteShare: 0.1,
    maxUtilization: 0.25,
    quietIntervals: 2,
    minGapMs: options.minGapMs ?? 600_000,
    maxPauseMs: 1_000,
    canPause: options.canPause,
    readOldSpace: () => {
      const now = justAfter ?? oldSpace;
      justAfter = undefined;
      return now;
    },
    busySince: () => busy.shift() ?? 0,
    compact: async () => {
      attempts++;
      if (options.fails) throw new Error('inspector is not available');
      compactions.push(clock);
      clock += options.pauseMs ?? 100;
      justAfter = options.after ?? { reserved: oldSpace.used, used: oldSpace.used };
      if (options.holesReturn === false) oldSpace = justAfter;
    },
    now: () => clock,
  });
  return {
    compactor,
    compactions,
    attempts: () => attempts,
    advance: (ms: number) => (clock += ms),
    async looks(n: number): Promise<boolean[]> {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) {
        out.push(await compactor.check());
        clock += 2_000;
      }
      return out;
    },
  };
}

const fragmented: OldSpace = { reserved: 260 * MB, used: 200 * MB };

describe('when the heap compactor runs', () => {
  it('compacts a fragmented heap after two quiet looks in a row, and not again within the gap', async () => {
    const s = scripted({ utilization: [0.9, 0.1, 0.8, 0.05, 0.1, 0.1, 0.1, 0.1], oldSpace: fragmented });
    expect(await s.looks(5)).toEqual([false, false, false, false, true]);
    expect(await s.looks(3)).toEqual([false, false, false]);
    expect(s.compactions).toHaveLength(1);
  });

  it('compacts again once the gap has passed', async () => {
    const s = scripted({ utilization: [0, 0, 0, 0, 0, 0], oldSpace: fragmented, minGapMs: 5_000 });
    expect(await s.looks(6)).toEqual([false, true, false, false, true, false]);
  });

  it('never while the event loop is busy', async () => {
    const s = scripted({ utilization: [0.3, 0.9, 0.5, 0.3, 0.26, 0.7], oldSpace: fragmented });
    expect(await s.looks(6)).toEqual([false, false, false, false, false, false]);
    expect(s.compactions).toEqual([]);
  });

  it.each([
    ['less than 32 MB unused', { reserved: 100 * MB, used: 70 * MB }],
    ['less than a tenth unused', { reserved: 1000 * MB, used: 910 * MB }],
  ])('never when the old generation has %s', async (_what, oldSpace) => {
    const s = scripted({ utilization: [0, 0, 0, 0], oldSpace });
    expect(await s.looks(4)).toEqual([false, false, false, false]);
  });

  it('not while the message log has a group in flight (it may hold the append lock)', async () => {
    let busyLog = true;
    const s = scripted({ utilization: [0, 0, 0, 0], oldSpace: fragmented, canPause: () => !busyLog });
    expect(await s.looks(3)).toEqual([false, false, false]);
    busyLog = false;
    expect(await s.looks(1)).toEqual([true]);
  });

  it('never when the pause would be too long: first by a guess, then by the pause it measured', async () => {
    // 200 MB live at the first guess of 3 ms a MB: 600 ms, under the 1 s limit.
    const slow = scripted({ utilization: Array(8).fill(0), oldSpace: fragmented, minGapMs: 1_000, pauseMs: 1_500 });
    expect(await slow.looks(2)).toEqual([false, true]);
    // It took 1.5 s: at that rate the next one would too, so there is none.
    expect(await slow.looks(6)).toEqual([false, false, false, false, false, false]);
    // 400 MB live: 1.2 s by the first guess.
    const big = scripted({ utilization: [0, 0, 0], oldSpace: { reserved: 500 * MB, used: 400 * MB } });
    expect(await big.looks(3)).toEqual([false, false, false]);
  });

  it('looks less often after a run that gave little back, and turns itself off when compaction is not available', async () => {
    // Each run gives back only 10 MB, and the holes come back: the gap doubles from 10 s.
    const s = scripted({ utilization: Array(40).fill(0), oldSpace: fragmented, minGapMs: 10_000, after: { reserved: 250 * MB, used: 200 * MB } });
    const looks = await s.looks(40);
    const runs = looks.flatMap((ran, i) => (ran ? [i] : []));
    // Each run doubles the 10 s gap: 20 s, then 40 s (a look every 2 s). Runs that give back enough
    // keep it at 10 s (the test above).
    expect(runs.slice(1).map((r, i) => r - runs[i])).toEqual([10, 20]);

    const off = scripted({ utilization: Array(6).fill(0), oldSpace: fragmented, minGapMs: 0, fails: true });
    expect(await off.looks(6)).toEqual([false, false, false, false, false, false]);
    expect(off.attempts()).toBe(1);
  });

  it('is off by default and on only with HEAP_COMPACTION=idle; other values are refused', () => {
    expect(loadConfig({}).heapCompaction).toBe('off');
    expect(startHeapCompaction(loadConfig({}), silent)).toBeUndefined();
    expect(loadConfig({ HEAP_COMPACTION: 'off' }).heapCompaction).toBe('off');
    expect(startHeapCompaction({ heapCompaction: 'off' }, silent)).toBeUndefined();
    expect(loadConfig({ HEAP_COMPACTION: 'idle' }).heapCompaction).toBe('idle');
    const started = startHeapCompaction(loadConfig({ HEAP_COMPACTION: 'idle' }), silent);
    expect(started).toBeInstanceOf(HeapCompactor);
    started!.stop();
    expect(() => loadConfig({ HEAP_COMPACTION: 'always' })).toThrow(/HEAP_COMPACTION/);
  });
});

describe('what the heap compactor runs', () => {
  const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!;

  it('gives a fragmented old generation back: a quarter of a million objects kept out of a million', async () => {
    // Objects that survive long enough to reach the old generation, three in four of which then die.
    const kept: object[] = [];
    let batch: object[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      const o = { i, s: `object ${i}`, a: [i] };
      if (i % 4 === 0) kept.push(o);
      else batch.push(o);
      if (batch.length === 100_000) batch = [];
    }
    batch = [];
    // An ordinary full collection, as V8 runs them during a burst: the dead are freed, the holes stay.
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    const compactor = new HeapCompactor({
      log: silent,
      minWasteBytes: 16 * MB,
      // The test runner's heap holds what earlier test files left: any size, any pause.
      minWasteShare: 0,
      maxPauseMs: Infinity,
      busySince: () => 0,
    });
    await compactor.check();
    const before = oldSpace();
    expect(await compactor.check()).toBe(true);
    const after = oldSpace();
    // The space shrinks towards what is live; without the memory-reducing collection it stays.
    expect(before.space_size - after.space_size).toBeGreaterThan(16 * MB);
    expect(after.space_size - after.space_used_size).toBeLessThan(before.space_size - before.space_used_size);
    expect(kept).toHaveLength(250_000);
  }, 30_000);
});
