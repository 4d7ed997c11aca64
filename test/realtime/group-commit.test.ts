import { dbKinds, postgresUrl } from '../helpers/db';
import { startServer, type TestServer } from '../helpers/server';
import type { NewMessage } from '../../src/messages/message-log.service';

const kinds = dbKinds().filter((k) => k === 'postgres');
if (!postgresUrl) console.warn('[group commit] PostgreSQL variant SKIPPED: set DATABASE_URL to run it');

describe.each(kinds)('message log group commit on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(() => s?.close());

  const row = (payload: string, senderName = 'alice'): NewMessage => ({
    type: 'CHAT',
    senderId: 99,
    senderName,
    senderRole: 'MEMBER',
    targetId: 1,
    payload: JSON.stringify(payload),
  });

  it('stores the good messages of a group in which one row fails, and fails only that one', async () => {
    const log = s.app.services.messageLog;
    // Appended together, so they share one commit group; a 100-character name breaks varchar(64).
    const results = await Promise.allSettled([log.append(row('first')), log.append(row('bad', 'x'.repeat(100))), log.append(row('third'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const stored = await s.app.orm.em.fork().getConnection().execute('select payload from chat_messages where sender_id = 99 order by id');
    expect((stored as { payload: string }[]).map((r) => JSON.parse(r.payload))).toEqual(['first', 'third']);
  });
});
