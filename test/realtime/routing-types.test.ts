import type { Envelope } from '../../src/shared/protocol';
import { dbKinds, expectNoneOf, expectRefused, rowCounts } from '../support';
import { useCast } from './routing-cast';

describe.each(dbKinds())('who may send what, SYSTEM_LOG and AGENT_STATUS (PROTOCOL §3.2) on %s', (kind) => {
  const c = useCast(kind, 'realtime/routing-types');

  describe('who may send what', () => {
    it.each(['CHAT_STREAM', 'CHAT_STREAM_END', 'SYSTEM_LOG', 'AGENT_STATUS'])('a human (member or admin) may not send %s: FORBIDDEN, nothing stored or sent', async (type) => {
      const before = await rowCounts(c.s.app);
      const envelopes = [
        { type, target_id: c.bot1.agent.id, stream_id: 's-h', payload: { level: 'INFO', content: 'human says', status: 'idle', report: 'x' } },
        { type, target_id: c.bob.user.id, stream_id: 's-h', payload: 'human says' },
      ];
      for (const sender of [c.A1, c.ADM1]) for (const e of envelopes) expectRefused(await sender.send(e), 'FORBIDDEN');
      await expectNoneOf(c.everyone(), (e) => e.type === type);
      expect(await rowCounts(c.s.app)).toEqual(before);
    });

    it.each(['PRESENCE', 'AUTH_REQUEST', 'AUTH_STATUS_UPDATE', 'BUTLER_AGENT_MESSAGE'])('no client may send %s: FORBIDDEN for members, admins and agents', async (type) => {
      const before = await rowCounts(c.s.app);
      for (const sender of [c.A1, c.ADM1, c.X1]) {
        expectRefused(await sender.send({ type, target_id: c.bob.user.id, payload: { forged: true } }), 'FORBIDDEN');
        expectRefused(await sender.send({ type, payload: { forged: true } }), 'FORBIDDEN');
      }
      await expectNoneOf(c.everyone(), (e) => e.type === type && JSON.stringify(e.payload).includes('forged'));
      expect(await rowCounts(c.s.app)).toEqual(before);
    });

    it('an agent may not send AUTH_RESPONSE', async () => {
      expectRefused(await c.X1.send({ type: 'AUTH_RESPONSE', payload: { action_id: 'a1', approved: true } }), 'FORBIDDEN');
    });

    it('a /monitor socket cannot send anything: every message is refused FORBIDDEN and nothing is routed', async () => {
      const before = await rowCounts(c.s.app);
      for (const e of [
        { type: 'CHAT', target_id: c.alice.user.id, payload: 'from monitor' },
        { type: 'CHAT', payload: 'from monitor' },
        { type: 'SYSTEM_LOG', payload: { level: 'INFO', content: 'from monitor' } },
        { type: 'AUTH_RESPONSE', payload: { action_id: 'a1', approved: true } },
        'junk',
      ]) {
        expectRefused(await c.MON.send(e), 'FORBIDDEN');
      }
      await expectNoneOf(c.everyone(), (e) => JSON.stringify(e.payload).includes('from monitor'));
      expect(await rowCounts(c.s.app)).toEqual(before);
      expect(c.MON.socket.connected).toBe(true);
    });
  });

  describe('SYSTEM_LOG', () => {
    const isLog = (content: string) => (e: Envelope) => e.type === 'SYSTEM_LOG' && (e.payload as { content?: string }).content === content;

    it('from an agent: stored, acked {ok:true}, pushed to every /chat socket and /monitor as the stored entry, never to agents', async () => {
      const ack = await c.X1.send({ type: 'SYSTEM_LOG', payload: { level: 'WARNING', content: 'disk almost full' } });
      expect(ack).toEqual({ ok: true });
      const stored = (await c.s.api.get('/api/messages?q=disk%20almost%20full', c.alice.token)).body;
      expect(stored).toEqual([
        { id: expect.any(Number), agent_id: c.bot1.agent.id, agent_name: 'bot1', level: 'WARNING', content: 'disk almost full', timestamp: expect.any(String) },
      ]);
      for (const x of [c.A1, c.A2, c.B, c.ADM1, c.ADM2, c.C, c.MON]) {
        const got = await x.waitFor(isLog('disk almost full'));
        expect(got).toEqual({ type: 'SYSTEM_LOG', sender_id: c.bot1.agent.id, sender_name: 'bot1', sender_role: 'AGENT', target_id: null, payload: stored[0], timestamp: stored[0].timestamp });
        expect(got).not.toHaveProperty('id');
      }
      await expectNoneOf([c.X1, c.X2, c.Y], (e) => e.type === 'SYSTEM_LOG');
    });

    it('an admin’s POST /api/messages is pushed the same way, with the admin as sender', async () => {
      const res = await c.s.api.post('/api/messages', { level: 'INFO', content: 'maintenance at noon' }, c.admin.token);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ agent_id: null, agent_name: 'admin' });
      for (const x of [c.A1, c.A2, c.B, c.ADM1, c.ADM2, c.C, c.MON]) {
        const got = await x.waitFor(isLog('maintenance at noon'));
        expect(got).toEqual({ type: 'SYSTEM_LOG', sender_id: c.admin.user.id, sender_name: 'admin', sender_role: 'ADMIN', target_id: null, payload: res.body, timestamp: res.body.timestamp });
      }
      await expectNoneOf([c.X1, c.X2, c.Y], (e) => e.type === 'SYSTEM_LOG');
    });

    it('an agent’s POST /api/messages with its API token is pushed with the agent as sender', async () => {
      const res = await c.s.api.post('/api/messages', { level: 'SUCCESS', content: 'rest from bot2' }, c.bot2.token);
      expect(res.status).toBe(201);
      for (const x of [c.A1, c.MON]) expect(await x.waitFor(isLog('rest from bot2'))).toMatchObject({ sender_id: c.bot2.agent.id, sender_role: 'AGENT', payload: res.body });
      await expectNoneOf([c.X1, c.X2, c.Y], (e) => e.type === 'SYSTEM_LOG');
    });

    it('refuses a malformed SYSTEM_LOG payload with VALIDATION_ERROR; nothing is stored or pushed', async () => {
      const before = await rowCounts(c.s.app);
      for (const payload of [undefined, 'text', { level: 'LOUD', content: 'x' }, { level: 'INFO' }, { level: 'INFO', content: '' }, { level: 'INFO', content: 5 }]) {
        expectRefused(await c.X1.send({ type: 'SYSTEM_LOG', payload }), 'VALIDATION_ERROR');
      }
      await expectNoneOf(c.everyone(), (e) => e.type === 'SYSTEM_LOG');
      expect(await rowCounts(c.s.app)).toEqual(before);
    });
  });

  describe('AGENT_STATUS', () => {
    it('stores status and last_report and pushes PRESENCE with the agent’s user object to /chat and /monitor, not to agents', async () => {
      const ack = await c.X2.send({ type: 'AGENT_STATUS', payload: { status: 'busy', report: 'indexing 3/10' } });
      expect(ack).toEqual({ ok: true });
      const statuses = (await c.s.api.get('/api/users/agents/status', c.alice.token)).body as { id: number }[];
      const mine = statuses.find((a) => a.id === c.bot1.agent.id);
      expect(mine).toMatchObject({ status: 'busy', last_report: 'indexing 3/10', online: true });
      const isStatus = (e: Envelope) => e.type === 'PRESENCE' && (e.payload as { status?: string }).status === 'busy';
      for (const x of [c.A1, c.A2, c.B, c.ADM1, c.ADM2, c.C, c.MON]) {
        const got = await x.waitFor(isStatus);
        expect(got).toMatchObject({ type: 'PRESENCE', sender_id: 0, sender_role: 'SYSTEM', payload: mine });
        expect(got).not.toHaveProperty('id');
      }
      await expectNoneOf([c.X1, c.X2, c.Y], (e) => e.type === 'PRESENCE');
    });

    it('refuses a malformed AGENT_STATUS with VALIDATION_ERROR and leaves the stored status alone', async () => {
      expect(await c.Y.send({ type: 'AGENT_STATUS', payload: { status: 'idle', report: 'ok' } })).toEqual({ ok: true });
      for (const payload of [undefined, 'busy', { report: 'x' }, { status: '' }, { status: 'x'.repeat(33) }, { status: 'busy', report: 'r'.repeat(1001) }, { status: 7 }]) {
        expectRefused(await c.Y.send({ type: 'AGENT_STATUS', payload }), 'VALIDATION_ERROR');
      }
      const statuses = (await c.s.api.get('/api/users/agents/status', c.alice.token)).body as { id: number }[];
      expect(statuses.find((a) => a.id === c.bot2.agent.id)).toMatchObject({ status: 'idle', last_report: 'ok' });
    });

    it('accepts the limits exactly: status of 32 characters, report of 1,000', async () => {
      const status = 's'.repeat(32);
      const report = 'r'.repeat(1000);
      expect(await c.Y.send({ type: 'AGENT_STATUS', payload: { status, report } })).toEqual({ ok: true });
      const statuses = (await c.s.api.get('/api/users/agents/status', c.alice.token)).body as { id: number }[];
      expect(statuses.find((a) => a.id === c.bot2.agent.id)).toMatchObject({ status, last_report: report });
    });
  });
});
