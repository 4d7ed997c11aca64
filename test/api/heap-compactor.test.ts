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
function scripted(options: { utilization: number[]; oldSpace: OldSpace; minGapMs?: number }) {
  let clock = 0;
  const busy = [...options.utilization];
  const compactions: number[] = [];
  const compactor = new HeapCompactor({
    log: silent,
    minWasteBytes: 32 * MB,
    minWasteShare: 0.1,
    maxUtilization: 0.25,
    quietIntervals: 2,
    minGapMs: options.minGapMs ?? 600_000,
    readOldSpace: () => options.oldSpace,
    busySince: () => busy.shift() ?? 0,
    compact: async () => void compactions.push(clock),
    now: () => clock,
  });
  return {
    compactor,
    compactions,
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

  it('is on by default and off with HEAP_COMPACTION=off; other values are refused', () => {
    expect(loadConfig({}).heapCompaction).toBe('idle');
    expect(loadConfig({ HEAP_COMPACTION: 'off' }).heapCompaction).toBe('off');
    expect(startHeapCompaction({ heapCompaction: 'off' }, silent)).toBeUndefined();
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
      minWasteShare: 0, // the test runner's own heap may be large
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
