import type { Logger } from '../shared/logger';
import type { DirectConnection, DirectDriver } from './direct-driver';
import type { Orm } from './orm';

/** How often the WAL is copied back into the database file. */
const INTERVAL_MS = 1_000;
const CHECKPOINT = 'PRAGMA wal_checkpoint(PASSIVE)';

/**
 * Checkpoints SQLite's write-ahead log from a second connection, off the writers' path.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages, on the one
 * connection every write goes through: that commit copies the pages and syncs both files (tens of
 * milliseconds on a shared disk) while every message behind it waits. The application connection
 * therefore sets `wal_autocheckpoint = 0`, and this class runs a PASSIVE checkpoint every second on
 * its own connection (its own driver thread): PASSIVE never waits for readers or writers, and the
 * commits go on appending to the log meanwhile. SQLite restarts the log from the top once a
 * checkpoint has copied all of it.
 *
 * Without the direct driver (see `probeDirectDriver`) there is no connection of its own: the same
 * checkpoint then runs through the public query path on the application's connection, between
 * writes, so the log still reaches the file and stops growing.
 */
export class SqliteCheckpointer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  private constructor(
    private readonly orm: Orm,
    private readonly own: DirectConnection | undefined,
    private readonly log: Logger,
  ) {}

  static async start(orm: Orm, log: Logger, driver?: DirectDriver): Promise<SqliteCheckpointer> {
    const checkpointer = new SqliteCheckpointer(orm, await driver?.own(), log);
    checkpointer.timer = setInterval(() => {
      if (!checkpointer.running) checkpointer.running = checkpointer.checkpoint().finally(() => (checkpointer.running = undefined));
    }, INTERVAL_MS);
    checkpointer.timer.unref();
    return checkpointer;
  }

  /** Copies what the log holds into the database file; never blocks the writer. */
  async checkpoint(): Promise<void> {
    try {
      await (this.own ? this.own.query(CHECKPOINT, []) : this.orm.em.getConnection().execute(CHECKPOINT));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'sqlite checkpoint failed; the next one retries');
    }
  }

  /** Stops the timer and closes the connection (the ORM's own close checkpoints what is left). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.own?.release();
  }
}
