import { MAX_ANSWERED, type AgentCursor, type CursorStore } from './cursor-store';

/**
 * The client's live copy of its cursor. Changes are saved in the background, one save at a time:
 * when several changes land during a save, the next save writes them all at once.
 */
export class CursorKeeper {
  private cursor: AgentCursor = { lastId: 0, answered: [] };
  private answered = new Set<string>();
  private loaded = false;
  private dirty = false;
  private saving: Promise<void> | undefined;

  constructor(
    private readonly store: CursorStore,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Reads the stored cursor; true when there was one (then the client asks for a replay). */
  async load(): Promise<boolean> {
    const stored = await this.store.load();
    this.loaded = stored !== undefined;
    if (stored) {
      this.cursor = { ...stored, answered: stored.answered.slice(-MAX_ANSWERED) };
      this.answered = new Set(this.cursor.answered);
    }
    return this.loaded;
  }

  /** The `auth.last_id` to send: only once there is a cursor, or a fresh agent would be replayed all its history. */
  get replayFrom(): number | undefined {
    return this.loaded ? this.cursor.lastId : undefined;
  }

  get lastId(): number {
    return this.cursor.lastId;
  }

  get agentId(): number | undefined {
    return this.cursor.agentId;
  }

  set agentId(id: number) {
    if (this.cursor.agentId === id) return;
    this.cursor.agentId = id;
    this.changed(false);
  }

  /** A message with this id has been handled. */
  advance(id: number): void {
    if (id <= this.cursor.lastId) return;
    this.cursor.lastId = id;
    this.changed();
  }

  isAnswered(actionId: string): boolean {
    return this.answered.has(actionId);
  }

  /** The answer to this action was acknowledged by the server. */
  markAnswered(actionId: string): void {
    if (this.answered.has(actionId)) return;
    this.answered.add(actionId);
    this.cursor.answered.push(actionId);
    while (this.cursor.answered.length > MAX_ANSWERED) this.answered.delete(this.cursor.answered.shift()!);
    this.changed();
  }

  /** Resolves when every change so far is saved. */
  async flush(): Promise<void> {
    while (this.saving) await this.saving;
  }

  private changed(position = true): void {
    // From the first handled message on there is a cursor: the next connection asks for a replay from it.
    if (position) this.loaded = true;
    this.dirty = true;
    this.saving ??= this.saveLoop();
  }

  private async saveLoop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await this.store.save({ ...this.cursor, answered: [...this.cursor.answered] });
      } catch (err) {
        this.onError(err);
      }
    }
    this.saving = undefined;
  }
}
