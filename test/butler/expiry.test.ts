/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Expiry (PROTOCOL §6): a request nobody decides becomes EXPIRED at expires_at (BUTLER_AUTH_TIMEOUT),
 * announced within 5 s and once; a decision after expires_at is a conflict, even before the sweep.
 */
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, dbKinds, expectError, expectNothing, sleep, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';
import { type Cast, cast, decide, fileRequest, isAuth, statuses } from './butler-helpers';

warnIfPostgresSkipped('butler expiry');

const outcomeFor = (c: Cast, text: string) => (e: Envelope) => e.type === 'CHAT' && e.sender_id === c.butler && e.reply_to == null && String(e.payload).includes(text);

describe.each(dbKinds())('authorization expiry (BUTLER_AUTH_TIMEOUT=1s) on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind, env: { BUTLER_AUTH_TIMEOUT: '1s' } });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('expires an undecided request within 5 s of expires_at, once, with decided_by/decided_at null; a later decision is 409', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'wait for nobody')).payload as any;
    const expiresAt = Date.parse(p.expires_at);

    const expired = await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'), 7_000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(Date.now() - expiresAt).toBeLessThan(5_000);
    expect(expired.payload).toEqual({ action_id: p.action_id, status: 'EXPIRED', decided_by: null, decided_at: null, result: null });
    await c.adm.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'));
    await c.mon.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'));
    const outcome = await c.req.waitFor(outcomeFor(c, 'expired'));
    expect(outcome.payload).toBe(`Nobody decided on "wait for nobody" for ${c.agentName} in time; the request expired.`);

    const rest = await s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, s.adminToken);
    expectError(rest, 409, 'CONFLICT');
    expect(await decide(c.adm, p.action_id, false)).toMatchObject({ ok: false, code: 'CONFLICT' });

    await sleep(1_200); // more sweeps: still announced once
    for (const who of [c.req, c.adm, c.mon]) expect(statuses(who, p.action_id)).toEqual(['EXPIRED']);
    expect(c.req.received.filter(outcomeFor(c, 'expired'))).toHaveLength(1);
    expect(c.ag!.received).toEqual([]);
    await expectNothing(c.oth, (e) => (e.payload as any)?.action_id === p.action_id || e.sender_id === c.butler, 0);
    const [row] = (await s.api.get('/api/chat/auth/requests?status=EXPIRED', c.requester.token)).body;
    expect(row).toMatchObject({ action_id: p.action_id, status: 'EXPIRED', decided_by: null, decided_at: null, result: null, expires_at: p.expires_at });
  });

  it('refuses a decision that arrives after expires_at, even before the sweeper has marked it, and never approves', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'too late')).payload as any;
    while (Date.now() <= Date.parse(p.expires_at) + 20) await sleep(5);
    const [overSocket, overRest] = await Promise.all([
      decide(c.adm, p.action_id, true),
      s.api.post('/api/chat/auth/response', { action_id: p.action_id, approved: true }, s.adminToken),
    ]);
    expect(overSocket).toMatchObject({ ok: false, code: 'CONFLICT' });
    expectError(overRest, 409, 'CONFLICT');
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'EXPIRED'), 5_000);
    await sleep(300);
    expect(statuses(c.req, p.action_id)).toEqual(['EXPIRED']);
    expect(c.ag!.received).toEqual([]);
  });
});
