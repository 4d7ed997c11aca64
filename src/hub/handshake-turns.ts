/**
 * Lets at most `limit` handshakes identify their client at once (HANDSHAKE_CONCURRENCY: the credential
 * look-ups of the namespaces' middleware); the others wait their turn, in arrival order.
 *
 * Why: memory. A handshake that waits for the database keeps its temporaries alive across V8's
 * young-generation collections, so they die in the old generation, between the objects of the sockets
 * that stay, and the old generation keeps those holes in RSS after a burst of reconnecting agents.
 * With 200 agents identifying at once, 20,000 agents left 39–70 MB of holes; taking turns 32 at a
 * time leaves 25–50 MB (README → Deploying). The price is how fast a burst gets in: 820–990 instead of
 * 1,220–1,400 handshakes a second on the development machine. `limit` 0 lets everyone in at once.
 *
 * A turn passes on when its work settles, or after `holdMs` if it has not (a database call that
 * hangs must not stop every namespace's handshakes for good: the next ones go ahead, the hung one
 * finishes whenever it does). A client that has gone while it waited is skipped by the caller.
 */
export class HandshakeTurns {
  private running = 0;
  /** Waiting handshakes in arrival order; `head` is the next one (no O(n) shift on a long line). */
  private line: (() => void)[] = [];
  private head = 0;

  constructor(
    private readonly limit: number,
    private readonly holdMs = 10_000,
  ) {}

  /** Handshakes waiting for their turn. */
  get waiting(): number {
    return this.line.length - this.head;
  }

  /** Runs `work` once it is this handshake's turn; the turn passes on when `work` settles (or after `holdMs`). */
  async take<T>(work: () => Promise<T>): Promise<T> {
    if (this.limit <= 0) return work();
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.line.push(resolve));
    let passed = false;
    const passOn = () => {
      if (passed) return;
      passed = true;
      clearTimeout(timer);
      this.passOn();
    };
    const timer = setTimeout(passOn, this.holdMs);
    try {
      return await work();
    } finally {
      passOn();
    }
  }

  private passOn(): void {
    if (this.head === this.line.length) {
      this.running--;
      return;
    }
    const next = this.line[this.head];
    this.line[this.head++] = undefined as never;
    if (this.head === this.line.length) {
      this.line = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.line.length) {
      // A line that never empties (a long storm) drops what has been served.
      this.line = this.line.slice(this.head);
      this.head = 0;
    }
    next(); // the turn goes on: `running` stays
  }
}
