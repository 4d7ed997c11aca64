/**
 * Gathers what a message-log group's deliveries push, so that the group goes out as one unit. The
 * deliveries are the group's own synchronous callbacks (Delivery → the link's `push`): while
 * `collect` runs them, `push` lands here instead of going out on its own.
 */
export class GroupCollector<T> {
  private collecting?: T[];

  /** Keeps `item` for the group being collected; false when no group is (send it on its own). */
  offer(item: T): boolean {
    if (!this.collecting) return false;
    this.collecting.push(item);
    return true;
  }

  /** Runs a group's deliveries and returns what they pushed, in order. */
  collect(deliver: () => void): T[] {
    const items: T[] = [];
    this.collecting = items;
    try {
      deliver();
    } finally {
      this.collecting = undefined;
    }
    return items;
  }
}
