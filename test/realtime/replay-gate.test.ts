/**
 * The replay gate's rules, as the backlog and the resync rely on them: what waits during a replay,
 * what a failed replay must not deliver, what a second replay must not send again.
 */
import { ReplayGate } from '../../src/hub/replay-gate';

function recorder() {
  const out: number[] = [];
  return { out, offer: (gate: ReplayGate, id: number) => gate.offer(id, () => out.push(id)) };
}

describe('ReplayGate', () => {
  it('holds live messages while a replay runs and releases those above it, in arrival order', () => {
    const gate = new ReplayGate();
    const r = recorder();
    for (const id of [5, 3, 9]) r.offer(gate, id);
    expect(r.out).toEqual([]);
    gate.release(5, [3]);
    expect(r.out).toEqual([9]);
    r.offer(gate, 4); // below the replay's end: a late copy
    r.offer(gate, 3); // sent besides the replay
    r.offer(gate, 10);
    expect(r.out).toEqual([9, 10]);
    expect(gate.sentBefore(3)).toBe(true);
    expect(gate.sentBefore(4)).toBe(false);
  });

  it('a replay that could not finish delivers nothing that waited: the client would skip what the replay never sent', async () => {
    const gate = new ReplayGate();
    const r = recorder();
    r.offer(gate, 900);
    const done = gate.whenDone();
    gate.abandon();
    await done;
    expect(r.out).toEqual([]);
    expect(gate.holding).toBe(false);
  });

  it('tells a second replay when the running one is over, and reopening keeps what it filters', async () => {
    const gate = new ReplayGate();
    expect(gate.holding).toBe(true);
    let over = false;
    const done = gate.whenDone().then(() => (over = true));
    await Promise.resolve();
    expect(over).toBe(false);
    gate.release(7);
    await done;
    expect(over).toBe(true);
    await gate.whenDone(); // nothing runs: at once
    gate.reopen();
    const r = recorder();
    r.offer(gate, 6);
    r.offer(gate, 8);
    gate.release(0);
    expect(r.out).toEqual([8]);
  });
});
