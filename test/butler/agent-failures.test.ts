/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Approved actions that fail (PROTOCOL §6): at once when the agent has no socket at approval (with
 * BUTLER_DELIVERY_TIMEOUT=0; waiting-directives.test.ts covers the default), and
 * when it does not answer within BUTLER_AGENT_TIMEOUT.
 */
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, connect, dbKinds, expectNothing, ISO_MS, sleep, startTestApp, type TestApp, warnIfPostgresSkipped } from '../support';
import { type Cast, cast, decide, fileRequest, isAuth, statuses } from './butler-helpers';

warnIfPostgresSkipped('butler agent failures');

const fromButlerTo = (c: Cast) => (e: Envelope) => e.sender_id === c.butler && e.target_id === c.agent.agent.id;
const outcomeFor = (c: Cast, text: string) => (e: Envelope) => e.type === 'CHAT' && e.sender_id === c.butler && e.reply_to == null && String(e.payload).includes(text);

describe.each(dbKinds())('approved actions that fail (BUTLER_AGENT_TIMEOUT=1s, BUTLER_DELIVERY_TIMEOUT=0) on %s', (kind) => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ db: kind, env: { BUTLER_AGENT_TIMEOUT: '1s', BUTLER_DELIVERY_TIMEOUT: '0' } });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });

  it('with BUTLER_DELIVERY_TIMEOUT=0, fails an approved action at once when its agent is offline: APPROVED → FAILED, nothing is sent later', async () => {
    const c = await cast(s, {}, { agentOnline: false });
    const p = (await fileRequest(c, 'reboot while away')).payload as any;
    expect(await decide(c.adm, p.action_id, true)).toEqual({ ok: true, action_id: p.action_id, status: 'APPROVED' });

    const failed = await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'FAILED'), 2_000);
    expect(failed.payload).toEqual({
      action_id: p.action_id,
      status: 'FAILED',
      decided_by: expect.any(Number),
      decided_at: expect.stringMatching(ISO_MS),
      result: `${c.agentName} is offline`,
    });
    const outcome = await c.req.waitFor(outcomeFor(c, 'failed'));
    expect(outcome.payload).toBe(`"reboot while away" for ${c.agentName} failed: ${c.agentName} is offline.`);
    for (const who of [c.req, c.adm, c.mon]) expect(statuses(who, p.action_id)).toEqual(['APPROVED', 'FAILED']);

    // The agent comes online afterwards (even asking for a replay of everything): no directive, ever.
    const ag = await connect(s.url, 'agents', { token: c.agent.token, last_id: 0 });
    await expectNothing(ag, fromButlerTo(c), 300);
    expect(c.mon.received.filter((e) => e.type === 'BUTLER_AGENT_MESSAGE')).toEqual([]);
    const convo = await s.api.get(`/api/chat/butler-agent/${c.agent.agent.id}`, s.adminToken);
    expect(convo.body).toEqual([]);
  });

  it('fails an executing action when the agent does not answer within BUTLER_AGENT_TIMEOUT; a late answer changes nothing', async () => {
    const c = await cast(s);
    const p = (await fileRequest(c, 'take forever')).payload as any;
    expect((await decide(c.adm, p.action_id, true)).ok).toBe(true);
    const directive = await c.ag!.waitFor(fromButlerTo(c));
    const sentAt = Date.now();

    const failed = await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'FAILED'), 5_000);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(800);
    expect((failed.payload as any).result).toBe(`${c.agentName} did not answer within 1 s`);
    const outcome = await c.req.waitFor(outcomeFor(c, 'failed'));
    expect(outcome.payload).toBe(`"take forever" for ${c.agentName} failed: ${c.agentName} did not answer within 1 s.`);

    expect((await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'done at last', reply_to: directive.id })).ok).toBe(true);
    await sleep(600);
    for (const who of [c.req, c.adm, c.mon]) expect(statuses(who, p.action_id)).toEqual(['APPROVED', 'EXECUTING', 'FAILED']);
    const [row] = (await s.api.get('/api/chat/auth/requests', c.requester.token)).body;
    expect(row).toMatchObject({ action_id: p.action_id, status: 'FAILED', result: `${c.agentName} did not answer within 1 s` });
    expect(c.req.received.filter((e) => e.type === 'CHAT' && e.sender_id === c.butler && String(e.payload).includes('done at last'))).toEqual([]);
  });
});
