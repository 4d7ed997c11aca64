/**
 * The console's state logic without a browser: ordering and dedupe by id, pending sends and their
 * acks, stream assembly, authorization timelines in any arrival order, the monitor feed, and the
 * small formatting rules of the screens.
 */
import type { Envelope } from '../../src/shared/protocol';
import { Authorizations } from '../../src/console/state/authorizations';
import { BROADCAST_PEER, ConsoleState } from '../../src/console/state/console-state';
import { Conversation } from '../../src/console/state/conversation';
import { Feed, FEED_LIMIT } from '../../src/console/state/feed';
import { countdown, newLocalId, signInMessage } from '../../src/console/state/format';

const ME = { id: 5, username: 'mia', role: 'MEMBER' as const };
const BUTLER = 1;
const AGENT = 9;
const T = '2026-12-01T10:00:00.000Z';

function env(over: Partial<Envelope>): Envelope {
  return { type: 'CHAT', sender_id: AGENT, sender_name: 'bot', sender_role: 'AGENT', target_id: ME.id, payload: 'x', timestamp: T, ...over };
}

const texts = (c: Conversation) => c.items().map((i) => i.text);

describe('Conversation', () => {
  it('orders stored lines by id whatever the arrival order, and keeps each id once', () => {
    const c = new Conversation(AGENT);
    for (const id of [12, 10, 11, 12, 10]) c.addStored(env({ id, payload: `m${id}` }));
    expect(texts(c)).toEqual(['m10', 'm11', 'm12']);
    expect(c.addStored(env({ id: 11, payload: 'again' }))).toBe(false);
    expect(c.newestId()).toBe(12);
    expect(c.oldestId).toBe(10);
  });

  it('shows an own line as pending, then stored at its ack id; a replayed copy does not double it', () => {
    const c = new Conversation(AGENT);
    c.addStored(env({ id: 3, payload: 'before' }));
    c.addPending('l1', ME, 'hello', T);
    expect(c.items().map((i) => [i.text, i.state])).toEqual([['before', 'sent'], ['hello', 'pending']]);
    c.acked('l1', { ok: true, id: 4, local_id: 'l1', timestamp: T });
    expect(c.items().map((i) => [i.id, i.state])).toEqual([[3, 'sent'], [4, 'sent']]);
    // The same message replayed after a reconnect (sent by me, with my local_id).
    c.addStored(env({ id: 4, local_id: 'l1', sender_id: ME.id, target_id: AGENT, payload: 'hello' }));
    expect(texts(c)).toEqual(['before', 'hello']);
  });

  it('drops the pending line when the replayed copy arrives before the ack', () => {
    const c = new Conversation(AGENT);
    c.addPending('l2', ME, 'hi', T);
    c.addStored(env({ id: 8, local_id: 'l2', sender_id: ME.id, target_id: AGENT, payload: 'hi' }));
    c.acked('l2', { ok: true, id: 8, local_id: 'l2', timestamp: T });
    expect(c.items().map((i) => [i.id, i.state])).toEqual([[8, 'sent']]);
  });

  it('keeps a refused send in place with the error, and retries it under the same local_id', () => {
    const c = new Conversation(AGENT);
    c.addPending('l3', ME, 'too big', T);
    c.acked('l3', { ok: false, error: 'payload is too large', code: 'PAYLOAD_TOO_LARGE' });
    expect(c.items()).toEqual([expect.objectContaining({ text: 'too big', state: 'failed', error: 'payload is too large' })]);
    expect(c.retrying('l3')).toMatchObject({ state: 'pending', local_id: 'l3' });
    expect(c.items()[0].error).toBeUndefined();
  });

  it('assembles CHAT_STREAM chunks, replaces them with the stored CHAT, and ignores late chunks', () => {
    const c = new Conversation(BUTLER);
    const chunk = (payload: string) => env({ type: 'CHAT_STREAM', sender_id: BUTLER, stream_id: 's1', reply_to: 7, payload });
    c.addChunk(chunk('Hel'));
    c.addChunk(chunk('lo'));
    expect(c.items()).toEqual([expect.objectContaining({ text: 'Hello', state: 'streaming', key: 'stream:s1' })]);
    c.addStored(env({ id: 20, sender_id: BUTLER, stream_id: 's1', reply_to: 7, payload: 'Hello!' }));
    c.addChunk(chunk(' late'));
    c.endStream(env({ type: 'CHAT_STREAM_END', sender_id: BUTLER, stream_id: 's1', payload: null }));
    expect(c.items()).toEqual([expect.objectContaining({ id: 20, text: 'Hello!', state: 'sent' })]);
  });

  it('keeps the assembled text when a stream ends without its CHAT having arrived', () => {
    const c = new Conversation(BUTLER);
    c.addChunk(env({ type: 'CHAT_STREAM', stream_id: 's2', payload: 'partial' }));
    c.endStream(env({ type: 'CHAT_STREAM_END', stream_id: 's2', payload: null }));
    expect(c.items()).toEqual([expect.objectContaining({ text: 'partial', state: 'sent' })]);
  });

  it('pages history backwards and knows when the start is reached', () => {
    const c = new Conversation(AGENT);
    const page = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => env({ id: from + i, payload: `m${from + i}` }));
    c.addHistory(page(51, 100), 50, () => ({ kind: 'chat' }));
    expect([c.oldestId, c.hasMore]).toEqual([51, true]);
    c.addHistory(page(1, 50), 50, () => ({ kind: 'chat' }));
    expect(c.hasMore).toBe(true);
    c.addHistory([], 50, () => ({ kind: 'chat' }));
    expect([c.oldestId, c.hasMore, c.items().length]).toEqual([1, false, 100]);
  });
});

const request = (id: number, action = 'a1', over: object = {}) =>
  env({
    id, type: 'AUTH_REQUEST', sender_id: BUTLER, sender_role: 'BUTLER',
    payload: { action_id: action, target_agent_id: AGENT, target_agent_name: 'bot', command: 'restart', reason: 'asked', status: 'PENDING', requested_by: ME.id, expires_at: '2026-12-01T10:10:00.000Z', ...over },
  });
const update = (id: number, status: string, action = 'a1', over: object = {}) =>
  env({ id, type: 'AUTH_STATUS_UPDATE', sender_id: BUTLER, sender_role: 'BUTLER', payload: { action_id: action, status, decided_by: 2, decided_at: T, result: null, ...over } });

describe('Authorizations', () => {
  it('builds the whole timeline in order from envelopes that arrive in any order, once each', () => {
    const a = new Authorizations();
    for (const e of [update(14, 'COMPLETED', 'a1', { result: 'done' }), request(11), update(13, 'EXECUTING'), update(12, 'APPROVED'), update(13, 'EXECUTING')]) {
      if (e.type === 'AUTH_REQUEST') a.request(e as never);
      else a.update(e as never);
    }
    const r = a.get('a1')!;
    expect(r.timeline.map((s) => s.status)).toEqual(['PENDING', 'APPROVED', 'EXECUTING', 'COMPLETED']);
    expect([r.status, r.result, r.known]).toEqual(['COMPLETED', 'done', true]);
  });

  it('never moves a status backwards and never leaves a final status for another', () => {
    const a = new Authorizations();
    a.request(request(1) as never);
    a.update(update(3, 'REJECTED', 'a1', { result: 'no' }) as never);
    a.update(update(2, 'PENDING') as never);
    a.update(update(4, 'EXPIRED') as never);
    expect(a.get('a1')).toMatchObject({ status: 'REJECTED', result: 'no' });
  });

  it.each(['REST row first', 'envelopes first'])('merges a REST row with the envelopes of the same request without doubling steps (%s)', (order) => {
    const a = new Authorizations();
    const rest = () => a.fromRest({ id: 1, action_id: 'a1', target_agent_id: AGENT, target_agent_name: 'bot', command: 'restart', reason: 'r', status: 'APPROVED', requested_by: ME.id, decided_by: 2, decided_at: T, expires_at: T, created_at: T, result: null });
    if (order === 'REST row first') rest();
    a.request(request(11) as never);
    a.update(update(12, 'APPROVED') as never);
    if (order === 'envelopes first') rest();
    expect(a.get('a1')!.timeline.map((s) => [s.status, s.envelope_id])).toEqual([['PENDING', 11], ['APPROVED', 12]]);
  });

  it('lists pending by expiry and decided newest first; a 409 is "already decided by someone else"', () => {
    const a = new Authorizations();
    a.request(request(1, 'late', { expires_at: '2026-12-01T11:00:00.000Z' }) as never);
    a.request(request(2, 'soon', { expires_at: '2026-12-01T10:01:00.000Z' }) as never);
    a.request(request(3, 'done') as never);
    a.update(update(4, 'REJECTED', 'done') as never);
    expect(a.pending().map((r) => r.action_id)).toEqual(['soon', 'late']);
    expect(a.decided().map((r) => r.action_id)).toEqual(['done']);
    a.deciding.add('soon');
    a.decisionAnswered('soon', { conflict: true });
    expect(a.deciding.has('soon')).toBe(false);
    expect(a.decisionErrors.get('soon')).toMatch(/already decided by someone else/i);
  });
});

describe('ConsoleState', () => {
  it('files each CHAT under the other party, counts unread only for conversations not on screen, and tracks last_id', () => {
    const s = new ConsoleState(ME);
    s.open(BUTLER);
    s.receive(env({ id: 30, sender_id: AGENT }));
    s.receive(env({ id: 30, sender_id: AGENT }));
    s.receive(env({ id: 31, sender_id: BUTLER, sender_role: 'BUTLER' }));
    s.receive(env({ id: 32, sender_id: ME.id, sender_role: 'MEMBER', target_id: AGENT }));
    s.receive(env({ id: 33, sender_id: 2, sender_name: 'root', sender_role: 'ADMIN', target_id: null }));
    expect(s.conversation(AGENT).items().map((i) => i.id)).toEqual([30, 32]);
    expect(s.conversation(AGENT).unread).toBe(1);
    expect(s.conversation(BUTLER).unread).toBe(0);
    expect(s.conversation(BROADCAST_PEER).items().map((i) => i.id)).toEqual([33]);
    expect(s.lastId).toBe(33);
    expect(s.people.get(2)).toEqual({ id: 2, username: 'root', role: 'ADMIN' });
    s.receive(env({ type: 'CHAT_STREAM', sender_id: BUTLER, stream_id: 'z', payload: 'no id' }));
    expect(s.lastId).toBe(33);
  });

  it("puts a member's own requests into the Butler conversation, and others' only into the inbox", () => {
    const s = new ConsoleState({ id: 2, username: 'root', role: 'ADMIN' });
    s.receive(request(40, 'mine', { requested_by: 2 }));
    s.receive(request(41, 'theirs', { requested_by: ME.id }));
    s.receive(update(42, 'APPROVED', 'theirs'));
    expect(s.conversation(BUTLER).items().map((i) => [i.kind, i.action_id])).toEqual([['auth', 'mine']]);
    expect(s.auth.get('theirs')!.status).toBe('APPROVED');
    expect(s.auth.pending().map((r) => r.action_id)).toEqual(['mine']);
  });

  it('keeps agents current from PRESENCE and lists the Butler first', () => {
    const s = new ConsoleState(ME);
    s.setAgents([
      { id: BUTLER, username: 'butler', role: 'BUTLER', created_at: T },
      { id: AGENT, username: 'zed', role: 'AGENT', created_at: T, online: false, status: null },
      { id: 10, username: 'amy', role: 'AGENT', created_at: T, online: false },
    ]);
    s.receive(env({ type: 'PRESENCE', sender_id: 0, sender_role: 'SYSTEM', target_id: null, payload: { id: AGENT, username: 'zed', role: 'AGENT', online: true, status: 'busy' } }));
    expect(s.agents.get(AGENT)).toMatchObject({ online: true, status: 'busy', created_at: T });
    expect(s.peers().map((p) => p.username)).toEqual(['butler', 'amy', 'zed']);
  });
});

describe('Feed', () => {
  it('keeps logs and traffic newest first, once each, bounded, filtered by agent and level', () => {
    const f = new Feed();
    const log = (id: number, level: string, agent_id: number | null, ts: string) => f.log({ id, agent_id, agent_name: 'a', level, content: `c${id}`, timestamp: ts });
    log(1, 'INFO', AGENT, '2026-12-01T10:00:01.000Z');
    log(2, 'ERROR', 10, '2026-12-01T10:00:03.000Z');
    log(1, 'INFO', AGENT, '2026-12-01T10:00:01.000Z');
    f.traffic(env({ type: 'BUTLER_AGENT_MESSAGE', timestamp: '2026-12-01T10:00:02.000Z', payload: { agent_id: AGENT, direction: 'TO_AGENT', message: env({ id: 70, payload: '[DIRECTIVE] go', timestamp: '2026-12-01T10:00:02.000Z' }) } }) as never, () => 'bot');
    expect(f.view().map((x) => x.text)).toEqual(['c2', '[DIRECTIVE] go', 'c1']);
    expect(f.view({ agentId: AGENT }).map((x) => x.text)).toEqual(['[DIRECTIVE] go', 'c1']);
    expect(f.view({ level: 'ERROR' }).map((x) => x.text)).toEqual(['c2']);
    for (let i = 10; i < 10 + FEED_LIMIT; i++) log(i, 'DEBUG', null, `2026-12-01T11:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000Z`);
    expect(f.view()).toHaveLength(FEED_LIMIT);
  });
});

describe('format', () => {
  it('counts down to expires_at and says expired after it', () => {
    const at = Date.parse('2026-12-01T10:00:00.000Z');
    expect(countdown('2026-12-01T10:09:59.500Z', at)).toBe('9:59');
    expect(countdown('2026-12-01T11:00:05.000Z', at)).toBe('1:00:05');
    expect(countdown('2026-12-01T09:59:59.000Z', at)).toBe('expired');
  });

  it('says why a sign-in was refused', () => {
    expect(signInMessage(401, 'INVALID_CREDENTIALS')).toBe('Wrong username or password.');
    expect(signInMessage(429, 'RATE_LIMITED')).toMatch(/Too many failed attempts/);
    expect(signInMessage(0, undefined)).toMatch(/cannot be reached/);
  });

  it('makes local_ids that fit the 64-character limit and differ', () => {
    const a = newLocalId();
    expect(a.length).toBeLessThanOrEqual(64);
    expect(newLocalId()).not.toBe(a);
  });
});
