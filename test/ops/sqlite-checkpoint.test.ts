/**
 * SQLite's write-ahead log is copied back into the database file by the app's own checkpointer, not by
 * the commits (which run with wal_autocheckpoint = 0, see src/db/sqlite-checkpointer.ts). What a user
 * would notice if that stopped: a log that grows without end, and a database file that stays without
 * the data until the app closes. So: store something, and watch the database file alone get it; with
 * the checkpointer's own connection (direct driver) and without it (the public path's fallback).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'sqlite3';
import { sleep, startTestApp, type TestApp } from '../support';

/**
 * Counts the rows of a table in a copy of the database file *without* its -wal file, opened with the
 * driver the app uses (sqlite3, a direct dependency); -1 when the copy caught a checkpoint half-way (try again).
 */
async function rowsInMainFile(dbPath: string, table: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'echocenter-ckpt-'));
  try {
    const copy = join(dir, 'copy.db');
    copyFileSync(dbPath, copy);
    const db = new Database(copy);
    try {
      return await new Promise<number>((resolve) => db.get<{ n: number }>(`select count(*) as n from ${table}`, (err, row) => resolve(err ? -1 : row.n)));
    } finally {
      await new Promise((resolve) => db.close(() => resolve(undefined)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each([
  ['its own connection (direct driver)', true],
  ['the application connection (public query path)', false],
])('SQLite checkpoints (embedded database) through %s', (_path, directDriver) => {
  let s: TestApp;
  let dbPath: string;
  beforeAll(async () => {
    s = await startTestApp({ deps: { directDriver } });
    dbPath = s.db.env.SQLITE_PATH;
  });
  afterAll(() => s?.close());

  it('the log is in WAL mode and what is stored reaches the database file itself within a few seconds', async () => {
    expect(existsSync(`${dbPath}-wal`)).toBe(true);
    for (let i = 0; i < 20; i++) {
      const res = await s.api.post('/api/messages', { level: 'INFO', content: `entry ${i}` }, s.adminToken);
      expect(res.status).toBe(201);
    }
    const knex = s.app.orm.em.getConnection().getKnex();
    const [{ n: stored }] = (await knex.raw('select count(*) as n from system_logs')) as { n: number }[];
    expect(stored).toBeGreaterThanOrEqual(20);
    // Right after start even the schema may be only in the log; poll until the file has it all.
    let inFile = -1;
    const deadline = Date.now() + 10_000;
    while (inFile !== stored && Date.now() < deadline) {
      await sleep(200);
      inFile = await rowsInMainFile(dbPath, 'system_logs');
    }
    expect(inFile).toBe(stored);
  });
});
