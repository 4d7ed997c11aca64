/**
 * The message log reaches the database driver straight (src/db/*.internals.ts) only when the start-up
 * probe finds the library shapes it relies on; otherwise it takes the public query path (`knex.raw`,
 * and a transaction-level advisory lock on PostgreSQL). Either way it must store, keep id order and
 * dedupe exactly alike (PROTOCOL §3.4, §5). The probe itself is shown turning the tuning off, with
 * one warning, when a shape differs.
 */
import { Writable } from 'node:stream';
import type { Orm } from '../../src/db/orm';
import { probeDirectDriver } from '../../src/db/direct-driver';
import type { Appended, LogFaults, NewMessage } from '../../src/messages/log/message-log.service';
import { createLogger } from '../../src/shared/logger';
import { dbKinds, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';

warnIfPostgresSkipped('message log');

const FALLBACK_WARNING = 'database driver internals differ from the pinned versions';

/** A logger whose JSON lines are kept in `lines`. */
function capturingLogger(level = 'info') {
  const lines: { level: number; msg: string; reason?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

const row = (payload: string, localId: string | null = null, senderName: string | null = 'alice'): NewMessage => ({
  type: 'CHAT',
  localId,
  senderId: 4242,
  senderName: senderName as string,
  senderRole: 'MEMBER',
  targetId: 1,
  payload: JSON.stringify(payload),
});

describe.each(dbKinds())('message log on %s', (kind) => {
  describe.each([
    ['the direct driver path', true],
    ['the public query path (the probe fallback)', false],
  ])('through %s', (_path, direct) => {
    let s: TestApp;
    const log = capturingLogger();
    beforeAll(async () => {
      s = await startTestApp({ db: kind, deps: { directDriver: direct, logger: log.logger } });
    });
    afterAll(() => s?.close());

    const stored = async () =>
      (await s.app.orm.em.fork().getConnection().execute('select id, local_id, payload from chat_messages where sender_id = 4242 order by id')) as {
        id: number;
        local_id: string | null;
        payload: string;
      }[];

    it('says nothing about the driver when it is used, and which path it took when it is not', () => {
      expect(log.lines.filter((l) => l.msg.includes(FALLBACK_WARNING))).toEqual([]);
      expect(log.lines.some((l) => l.msg.startsWith('direct database driver path off'))).toBe(!direct);
    });

    it('stores concurrent appends with ids ascending in append order, and delivers them in id order', async () => {
      const delivered: number[] = [];
      const appends = Array.from({ length: 40 }, (_, i) => s.app.services.messageLog.append(row(`m${i}`), (a: Appended) => delivered.push(a.message.id)));
      const ids = (await Promise.all(appends)).map((a) => a.message.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(new Set(ids).size).toBe(40);
      expect(delivered).toEqual(ids);
      const rows = (await stored()).filter((r) => ids.includes(Number(r.id)));
      expect(rows.map((r) => JSON.parse(r.payload))).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
    });

    it('dedupes a repeated local_id in the same group and in a later one: the original id, flagged, stored once', async () => {
      const messageLog = s.app.services.messageLog;
      const tag = `dup-${direct}`;
      const [first, again] = await Promise.all([messageLog.append(row('once', tag)), messageLog.append(row('twice', tag))]);
      const later = await messageLog.append(row('thrice', tag));
      expect(first.duplicate).toBe(false);
      expect([again.duplicate, later.duplicate]).toEqual([true, true]);
      expect([again.message.id, later.message.id]).toEqual([first.message.id, first.message.id]);
      const rows = (await stored()).filter((r) => r.local_id === tag);
      expect(rows.map((r) => JSON.parse(r.payload))).toEqual(['once']);
    });

    it('stores the good messages of a group in which one row fails, and fails only that one', async () => {
      const messageLog = s.app.services.messageLog;
      const results = await Promise.allSettled([
        messageLog.append(row(`good-a-${direct}`)),
        messageLog.append(row('bad', null, null)),
        messageLog.append(row(`good-b-${direct}`)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const payloads = (await stored()).map((r) => JSON.parse(r.payload));
      expect(payloads.filter((p) => String(p).endsWith(`-${direct}`) && String(p).startsWith('good'))).toEqual([`good-a-${direct}`, `good-b-${direct}`]);
      expect(payloads).not.toContain('bad');
    });
  });

  (kind === 'postgres' ? describe.each([true, false]) : describe.skip.each([true]))('two replicas on one database, direct driver %s', (direct) => {
    let a: TestApp;
    let b: TestApp;
    const bFaults: LogFaults = {};
    beforeAll(async () => {
      a = await startTestApp({ db: kind, deps: { directDriver: direct } });
      b = await startTestApp({ db: a.db, deps: { directDriver: direct, logFaults: bFaults } });
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    it('a group on one replica waits until the other replica has committed and delivered the group that drew a smaller id (the append lock)', async () => {
      let inserted!: () => void;
      const insertedSignal = new Promise<void>((r) => (inserted = r));
      bFaults.beforeCommit = async () => {
        bFaults.beforeCommit = undefined;
        inserted();
        await new Promise((r) => setTimeout(r, 300));
      };
      const settled: string[] = [];
      const slow = b.app.services.messageLog.append(row('slow')).then((x) => (settled.push('b'), x));
      await insertedSignal;
      const fast = a.app.services.messageLog.append(row('fast')).then((x) => (settled.push('a'), x));
      const [bs, as] = await Promise.all([slow, fast]);
      expect(settled).toEqual(['b', 'a']);
      expect(bs.message.id).toBeLessThan(as.message.id);
    });
  });

  describe('the start-up probe', () => {
    let s: TestApp;
    beforeAll(async () => {
      s = await startTestApp({ db: kind });
    });
    afterAll(() => s?.close());

    /** An ORM whose knex client is `client` (the real platform, so the dialect is `kind`'s). */
    const ormWith = (client: unknown) =>
      ({ em: { getPlatform: () => s.app.orm.em.getPlatform(), getConnection: () => ({ getKnex: () => ({ client }) }) } }) as unknown as Orm;
    /** A knex client with every method the probe looks for, handing out `connection`. */
    const clientWith = (connection: unknown) => ({
      acquireConnection: async () => connection,
      releaseConnection: async () => undefined,
      acquireRawConnection: async () => connection,
      destroyRawConnection: async () => undefined,
    });

    it('finds the pinned shapes on the real driver: the direct path, no warning', async () => {
      const { logger, lines } = capturingLogger();
      expect(await probeDirectDriver(s.app.orm, logger)).toBeDefined();
      expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    });

    it.each([
      ['knex client without acquireConnection', { ...clientWith({}), acquireConnection: undefined }, 'acquireConnection'],
      ['pooled connection without its query method', clientWith({}), kind === 'postgres' ? 'query(text, values)' : 'all(sql, params, callback)'],
      [
        'pooled connection whose query answers something else',
        clientWith({ all: (_s: string, _p: unknown[], cb: (e: null, r: unknown[]) => void) => cb(null, []), query: async () => ({ rows: [] }) }),
        'a probe query answered []',
      ],
      ['pooled connection that cannot be had', { ...clientWith({}), acquireConnection: async () => Promise.reject(new Error('pool gone')) }, 'pool gone'],
    ])('%s: the public path, and exactly one warning that names it', async (_case, client, reason) => {
      const { logger, lines } = capturingLogger();
      expect(await probeDirectDriver(ormWith(client), logger)).toBeUndefined();
      const warnings = lines.filter((l) => l.level >= 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0].msg).toContain(FALLBACK_WARNING);
      expect(warnings[0].reason).toContain(reason);
    });
  });
});
