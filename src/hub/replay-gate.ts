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
  /** Ids sent besides the replay (an agent's open directives below its `last_id`). */
  private sentIds?: Set<number>;
  /** Who waits for the running replay to end (see `whenDone`). */
  private waiting?: (() => void)[];

  constructor(private replayedUpTo = 0) {}

  /** Whether a replay is running (live messages are held). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Holds live messages again, for another replay (a resync), keeping what it filters. */
  reopen(): void {
    this.held ??= [];
  }

  /** Whether `id` was sent besides the replay (it must not be sent again by a later one). */
  sentBefore(id: number): boolean {
    return this.sentIds?.has(id) ?? false;
  }

  /** A replay could not finish: what waited is dropped (the socket reconnects and replays it). */
  abandon(): void {
    this.held = undefined;
    this.done();
  }

  /** Resolves when the running replay has ended (released or abandoned); at once when none runs. */
  whenDone(): Promise<void> {
    if (!this.held) return Promise.resolve();
    return new Promise((resolve) => (this.waiting ??= []).push(resolve));
  }

  private done(): void {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const resolve of waiting) resolve();
  }

  /** The highest id a replay has sent to this socket. */
  get replayedThrough(): number {
    return this.replayedUpTo;
  }

  /** Whether it still drops anything: a socket that was sent nothing needs no gate once released. */
  get filtering(): boolean {
    return this.held !== undefined || this.replayedUpTo > 0 || this.sentIds !== undefined;
  }

  /** Delivers a live message now, later (replay running) or never (already sent). */
  offer(id: number, deliver: () => void): void {
    if (this.held) this.held.push({ id, deliver });
    else if (this.fresh(id)) deliver();
  }

  /**
   * Ends the replay at `lastId` (and `alsoSent`, sent besides it) and delivers what waited, in
   * arrival order, minus duplicates.
   */
  release(lastId: number, alsoSent: readonly number[] = []): void {
    this.replayedUpTo = Math.max(this.replayedUpTo, lastId);
    if (alsoSent.length) this.sentIds = new Set([...(this.sentIds ?? []), ...alsoSent]);
    const held = this.held ?? [];
    this.held = undefined;
    for (const h of held) if (this.fresh(h.id)) h.deliver();
    this.done();
  }

  private fresh(id: number): boolean {
    return id > this.replayedUpTo && !this.sentIds?.has(id);
  }
}
