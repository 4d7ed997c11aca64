/**
 * Coalesces look-ups by key: keys asked for while a load runs wait and go together in the next one.
 * A lone look-up is loaded at once; a burst of them (thousands of agents reconnecting after a
 * restart) becomes one query per group instead of one each queued for the database connection.
 */
export class BatchLoader<K, V> {
  private collecting: { keys: Set<K>; loaded: Promise<Map<K, V>> } | undefined;
  private previous: Promise<unknown> = Promise.resolve();

  /** `load` answers for the keys it is given (at most `maxKeys`); a key it leaves out has no value. */
  constructor(
    private readonly load: (keys: K[]) => Promise<Map<K, V>>,
    private readonly maxKeys = 500,
  ) {}

  async get(key: K): Promise<V | undefined> {
    if (!this.collecting || this.collecting.keys.size >= this.maxKeys) {
      const keys = new Set<K>();
      const loaded = this.previous.then(() => {
        if (this.collecting?.keys === keys) this.collecting = undefined; // later keys join the next group
        return this.load([...keys]);
      });
      this.collecting = { keys, loaded };
      this.previous = loaded.catch(() => undefined);
    }
    this.collecting.keys.add(key);
    return (await this.collecting.loaded).get(key);
  }
}
