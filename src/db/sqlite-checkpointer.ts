import type { Logger } from '../shared/logger';
import type { Orm } from './orm';

/** How often the WAL is copied back into the database file. */
const INTERVAL_MS = 1_000;

interface RawSqlite {
  all(sql: string, cb: (err: Error | null, rows: Record<string, number>[]) => void): void;
}

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
 */
export class SqliteCheckpointer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  private constructor(
    private readonly orm: Orm,
    private readonly db: RawSqlite,
    private readonly log: Logger,
  ) {}

  static async start(orm: Orm, log: Logger): Promise<SqliteCheckpointer> {
    const client = orm.em.getConnection().getKnex().client;
    const db = (await client.acquireRawConnection()) as RawSqlite;
    const checkpointer = new SqliteCheckpointer(orm, db, log);
    checkpointer.timer = setInterval(() => {
      if (!checkpointer.running) checkpointer.running = checkpointer.checkpoint().finally(() => (checkpointer.running = undefined));
    }, INTERVAL_MS);
    checkpointer.timer.unref();
    return checkpointer;
  }

  /** Copies what the log holds into the database file; never blocks the writer. */
  checkpoint(): Promise<void> {
    return new Promise((resolve) => {
      this.db.all('PRAGMA wal_checkpoint(PASSIVE)', (err) => {
        if (err) this.log.warn({ err: err.message }, 'sqlite checkpoint failed; the next one retries');
        resolve();
      });
    });
  }

  /** Stops the timer and closes the connection (the ORM's own close checkpoints what is left). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.orm.em.getConnection().getKnex().client.destroyRawConnection(this.db);
  }
}
