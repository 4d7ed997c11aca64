import { dbKinds, warnIfPostgresSkipped } from '../helpers/db';
import { startServer, type TestServer } from '../helpers/server';
import type { NewMessage } from '../../src/messages/log/message-log.service';

warnIfPostgresSkipped('group commit');

describe.each(dbKinds())('message log group commit on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(() => s?.close());

  const row = (payload: string, senderName: string | null = 'alice'): NewMessage => ({
    type: 'CHAT',
    senderId: 99,
    senderName: senderName as string,
    senderRole: 'MEMBER',
    targetId: 1,
    payload: JSON.stringify(payload),
  });

  it('stores the good messages of a group in which one row fails, and fails only that one', async () => {
    const log = s.app.services.messageLog;
    // Appended together, so they share one commit group; a null sender name breaks NOT NULL.
    const results = await Promise.allSettled([log.append(row('first')), log.append(row('bad', null)), log.append(row('third'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const stored = await s.app.orm.em.fork().getConnection().execute('select payload from chat_messages where sender_id = 99 order by id');
    expect((stored as { payload: string }[]).map((r) => JSON.parse(r.payload))).toEqual(['first', 'third']);
  });
});
