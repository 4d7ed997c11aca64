import type { Envelope } from '../../src/shared/protocol';
import { createHuman, dbKinds, expectNoneOf, expectRefused, okAck, openWith, rowCounts, withPayload } from '../support';
import { useCast } from './routing-cast';

describe.each(dbKinds())('CHAT and CHAT_STREAM routing (PROTOCOL §3.2) on %s', (kind) => {
  const c = useCast(kind, 'realtime/routing');

  const chatWith = (payload: string) => (e: Envelope) => e.type === 'CHAT' && e.payload === payload;

  describe('CHAT', () => {
    it('member → agent: every socket of the agent and the member’s other tab, not the sending tab, nobody else', async () => {
      const ack = okAck(await c.A1.send({ type: 'CHAT', target_id: c.bot1.agent.id, payload: 'm2a' }));
      for (const x of [c.X1, c.X2, c.A2]) {
        expect(await x.waitFor(chatWith('m2a'))).toMatchObject({ id: ack.id, sender_id: c.alice.user.id, sender_role: 'MEMBER', target_id: c.bot1.agent.id });
      }
      await expectNoneOf(c.except(c.X1, c.X2, c.A2), chatWith('m2a'));
    });

    it('agent → member: every tab of the member; never the agent’s own sockets', async () => {
      const ack = okAck(await c.X1.send({ type: 'CHAT', target_id: c.alice.user.id, payload: 'a2m' }));
      for (const x of [c.A1, c.A2]) {
        expect(await x.waitFor(chatWith('a2m'))).toMatchObject({ id: ack.id, sender_id: c.bot1.agent.id, sender_name: 'bot1', sender_role: 'AGENT', target_id: c.alice.user.id });
      }
      await expectNoneOf(c.except(c.A1, c.A2), chatWith('a2m'));
    });

    it('member → member: the target and the sender’s other tab', async () => {
      okAck(await c.A2.send({ type: 'CHAT', target_id: c.bob.user.id, payload: 'm2m' }));
      for (const x of [c.B, c.A1]) await x.waitFor(chatWith('m2m'));
      await expectNoneOf(c.except(c.B, c.A1), chatWith('m2m'));
    });

    it('admin → member: the member and the admin’s other tab, not other admins or /monitor', async () => {
      okAck(await c.ADM1.send({ type: 'CHAT', target_id: c.alice.user.id, payload: 'adm2m' }));
      for (const x of [c.A1, c.A2, c.ADM2]) await x.waitFor(chatWith('adm2m'));
      await expectNoneOf(c.except(c.A1, c.A2, c.ADM2), chatWith('adm2m'));
    });

    it('a member writing to themself reaches only their other tabs', async () => {
      okAck(await c.A1.send({ type: 'CHAT', target_id: c.alice.user.id, payload: 'note to self' }));
      await c.A2.waitFor(chatWith('note to self'));
      await expectNoneOf(c.except(c.A2), chatWith('note to self'));
    });

    it('agent → agent: the target agent only, not the sender’s other socket', async () => {
      okAck(await c.X1.send({ type: 'CHAT', target_id: c.bot2.agent.id, payload: 'a2a' }));
      await c.Y.waitFor(chatWith('a2a'));
      await expectNoneOf(c.except(c.Y), chatWith('a2a'));
    });

    it('an agent writing to itself is stored but echoed to none of its sockets (no self-loop)', async () => {
      const ack = okAck(await c.X1.send({ type: 'CHAT', target_id: c.bot1.agent.id, payload: 'self loop' }));
      expect(ack.id).toEqual(expect.any(Number));
      await expectNoneOf(c.everyone(), chatWith('self loop'));
    });

    it('an agent writing to the Butler is stored and reaches no socket', async () => {
      const butler = (await c.s.api.get('/api/users/butler', c.s.adminToken)).body;
      okAck(await c.X1.send({ type: 'CHAT', target_id: butler.id, payload: 'to the butler' }));
      await expectNoneOf(c.everyone(), chatWith('to the butler'));
      const history = await c.s.api.get(`/api/chat/butler-agent/${c.bot1.agent.id}`, c.s.adminToken);
      expect(history.body.map((e: Envelope) => e.payload)).toContain('to the butler');
    });

    it.each([
      ['omitted', {}],
      ['0', { target_id: 0 }],
      ['null', { target_id: null }],
    ])('admin broadcast (target_id %s) reaches every human and agent socket except the sending one, not /monitor', async (_label, target) => {
      const payload = `broadcast ${_label}`;
      const ack = okAck(await c.ADM1.send({ type: 'CHAT', payload, ...target }));
      const targets = [c.A1, c.A2, c.B, c.ADM2, c.C, c.X1, c.X2, c.Y];
      for (const x of targets) expect(await x.waitFor(chatWith(payload))).toMatchObject({ id: ack.id, target_id: null, sender_id: c.admin.user.id, sender_role: 'ADMIN' });
      await expectNoneOf([c.ADM1, c.MON], chatWith(payload));
    });

    it.each([
      ['omitted', {}],
      ['0', { target_id: 0 }],
      ['null', { target_id: null }],
    ])('a broadcast (target_id %s) from a member or an agent is FORBIDDEN, and nothing is stored or sent', async (_label, target) => {
      const before = await rowCounts(c.s.app);
      expectRefused(await c.A1.send({ type: 'CHAT', payload: 'member shout', ...target }), 'FORBIDDEN');
      expectRefused(await c.X1.send({ type: 'CHAT', payload: 'agent shout', ...target }), 'FORBIDDEN');
      expectRefused(await c.X1.send({ type: 'CHAT_STREAM', stream_id: 's-shout', payload: 'agent stream shout', ...target }), 'FORBIDDEN');
      await expectNoneOf(c.everyone(), (e) => typeof e.payload === 'string' && e.payload.includes('shout'));
      expect(await rowCounts(c.s.app)).toEqual(before);
    });

    it('a CHAT to a user that does not exist is NOT_FOUND; nothing is stored or sent', async () => {
      const before = await rowCounts(c.s.app);
      expectRefused(await c.A1.send({ type: 'CHAT', target_id: 999_999, payload: 'nobody' }), 'NOT_FOUND');
      expectRefused(await c.X1.send({ type: 'CHAT', target_id: 999_999, payload: 'nobody' }), 'NOT_FOUND');
      await expectNoneOf(c.everyone(), chatWith('nobody'));
      expect(await rowCounts(c.s.app)).toEqual(before);
    });

    it('a user created right after a NOT_FOUND for their id can be written to at once', async () => {
      const users = (await c.s.api.get('/api/users?limit=200', c.s.adminToken)).body as { id: number }[];
      const nextId = Math.max(...users.map((u) => u.id)) + 1;
      expectRefused(await c.A1.send({ type: 'CHAT', target_id: nextId, payload: 'too early' }), 'NOT_FOUND');
      const late = await createHuman(c.s.api, c.s.adminToken, 'latecomer');
      expect(late.user.id).toBe(nextId);
      const tab = await openWith(c.s.url, 'chat', late.token);
      okAck(await c.A1.send({ type: 'CHAT', target_id: nextId, payload: 'welcome' }));
      await tab.waitFor(chatWith('welcome'));
    });

    it('a CHAT to a user deleted a moment ago is NOT_FOUND', async () => {
      const gone = await createHuman(c.s.api, c.s.adminToken, 'short-lived');
      okAck(await c.A1.send({ type: 'CHAT', target_id: gone.user.id, payload: 'hello short-lived' }));
      expect((await c.s.api.delete(`/api/users/${gone.user.id}`, c.s.adminToken)).status).toBe(204);
      expectRefused(await c.A1.send({ type: 'CHAT', target_id: gone.user.id, payload: 'too late' }), 'NOT_FOUND');
    });
  });

  describe('CHAT_STREAM and CHAT_STREAM_END', () => {
    it('are relayed from an agent like a CHAT, acked {ok:true}, carry stream_id, have no id and are never stored', async () => {
      const before = await rowCounts(c.s.app);
      const chunk = await c.X1.send({ type: 'CHAT_STREAM', target_id: c.alice.user.id, stream_id: 's-1', payload: 'partial', reply_to: 5 });
      expect(chunk).toEqual({ ok: true });
      const end = await c.X1.send({ type: 'CHAT_STREAM_END', target_id: c.alice.user.id, stream_id: 's-1', payload: null });
      expect(end).toEqual({ ok: true });
      for (const x of [c.A1, c.A2]) {
        const got = await x.waitFor((e) => e.type === 'CHAT_STREAM');
        expect(got).toMatchObject({ type: 'CHAT_STREAM', stream_id: 's-1', payload: 'partial', sender_id: c.bot1.agent.id, sender_role: 'AGENT', target_id: c.alice.user.id, reply_to: 5 });
        expect(got).not.toHaveProperty('id');
        const closed = await x.waitFor((e) => e.type === 'CHAT_STREAM_END');
        expect(closed).toMatchObject({ stream_id: 's-1', sender_id: c.bot1.agent.id });
        expect(closed).not.toHaveProperty('id');
      }
      await expectNoneOf(c.except(c.A1, c.A2), (e) => e.type === 'CHAT_STREAM' || e.type === 'CHAT_STREAM_END');
      expect(await rowCounts(c.s.app)).toEqual(before);
      const history = await c.s.api.get(`/api/chat/history/${c.bot1.agent.id}`, c.alice.token);
      expect(history.status).toBe(200);
      expect(history.body.filter((e: Envelope) => e.stream_id === 's-1')).toEqual([]);
    });

    it('agent → agent streams reach the target agent only', async () => {
      expect(await c.X1.send({ type: 'CHAT_STREAM', target_id: c.bot2.agent.id, stream_id: 's-2', payload: 'chunk for bot2' })).toEqual({ ok: true });
      await c.Y.waitFor(withPayload('chunk for bot2'));
      await expectNoneOf(c.except(c.Y), withPayload('chunk for bot2'));
    });

    it('require stream_id (VALIDATION_ERROR) and an existing target (NOT_FOUND)', async () => {
      expectRefused(await c.X1.send({ type: 'CHAT_STREAM', target_id: c.alice.user.id, payload: 'no stream id' }), 'VALIDATION_ERROR');
      expectRefused(await c.X1.send({ type: 'CHAT_STREAM_END', target_id: c.alice.user.id, payload: 'no stream id' }), 'VALIDATION_ERROR');
      expectRefused(await c.X1.send({ type: 'CHAT_STREAM', target_id: c.alice.user.id, stream_id: '', payload: 'empty stream id' }), 'VALIDATION_ERROR');
      expectRefused(await c.X1.send({ type: 'CHAT_STREAM', target_id: 999_999, stream_id: 's-3', payload: 'ghost' }), 'NOT_FOUND');
      await expectNoneOf(c.everyone(), (e) => e.type === 'CHAT_STREAM' || e.type === 'CHAT_STREAM_END');
    });
  });
});
