interface Held {
  id: number;
  deliver: () => void;
}

/**
 * Holds a socket's live stored messages while its replay runs, and afterwards drops any live copy of
 * a message the replay already sent (PROTOCOL §5: no gap, no duplicate).
 *
 * The gate opens *before* the replay query runs, so nothing committed later can be missed; whatever
 * the ordered stream delivers meanwhile (ordered-delivery.ts) waits here and is released after
 * `replay:done`, minus the ids the replay covered. The id filter stays for the socket's lifetime: after
 * a Redis outage, a message published late can arrive after a resync already sent it.
 */
export class ReplayGate {
  private held: Held[] | undefined = [];

  constructor(private replayedUpTo = 0) {}

  /** The highest id a replay has sent to this socket. */
  get replayedThrough(): number {
    return this.replayedUpTo;
  }

  /** Delivers a live message now, later (replay running) or never (already replayed). */
  offer(id: number, deliver: () => void): void {
    if (this.held) this.held.push({ id, deliver });
    else if (id > this.replayedUpTo) deliver();
  }

  /** Ends the replay at `lastId` and delivers what waited, in arrival order, minus duplicates. */
  release(lastId: number): void {
    this.replayedUpTo = Math.max(this.replayedUpTo, lastId);
    const held = this.held ?? [];
    this.held = undefined;
    for (const h of held) if (h.id > this.replayedUpTo) h.deliver();
  }
}
