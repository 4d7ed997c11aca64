/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * What an operator sees of a Butler turn and an authorization: `/metrics` moves (turns, their
 * duration, authorizations by status, the pending gauge, the directive's delivery wait, replay
 * sizes), and the info log has one line per request, decision, delivery and outcome, with who and
 * which action, and socket counts per namespace instead of a line per socket.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/shared/logger';
import { closeAll, connect, startTestApp, type TestApp } from '../support';
import { cast, decide, fileRequest, isAuth, turn } from '../butler/butler-helpers';

/** The value of one sample of the Prometheus text, or undefined when it is absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('operator signals (/metrics and the info log)', () => {
  let s: TestApp;
  const lines: any[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        done();
      },
    });
    s = await startTestApp({ deps: { logger: createLogger('info', sink) } });
  });
  afterAll(async () => {
    closeAll();
    await s?.close();
  });
  const metrics = async () => (await fetch(`${s.url}/metrics`)).text();

  it('a Butler turn and an authorization move the metrics and leave one log line per step', async () => {
    const before = await metrics();
    expect(sample(before, 'echocenter_butler_turns_total', '{outcome="ok"}')).toBeUndefined();
    expect(sample(before, 'echocenter_authorizations_pending')).toBe(0);

    const c = await cast(s);
    await turn(c.req, c.butler, 'list agents');
    const afterTurn = await metrics();
    expect(sample(afterTurn, 'echocenter_butler_turns_total', '{outcome="ok"}')).toBe(1);
    expect(sample(afterTurn, 'echocenter_butler_turn_duration_seconds_count')).toBe(1);

    const p = (await fileRequest(c, 'rotate the keys')).payload as any;
    const pending = await metrics();
    expect(sample(pending, 'echocenter_authorizations_total', '{status="PENDING"}')).toBe(1);
    expect(sample(pending, 'echocenter_authorizations_pending')).toBe(1);

    await decide(c.adm, p.action_id, true);
    const directive = await c.ag!.waitFor((e) => e.type === 'CHAT' && e.sender_id === c.butler);
    await c.ag!.send({ type: 'CHAT', target_id: c.butler, payload: 'rotated', reply_to: directive.id });
    await c.req.waitFor(isAuth('AUTH_STATUS_UPDATE', p.action_id, 'COMPLETED'));
    const done = await metrics();
    for (const status of ['APPROVED', 'EXECUTING', 'COMPLETED']) expect(sample(done, 'echocenter_authorizations_total', `{status="${status}"}`)).toBe(1);
    expect(sample(done, 'echocenter_authorizations_pending')).toBe(0);
    expect(sample(done, 'echocenter_directive_delivery_wait_seconds_count')).toBe(1);

    const about = lines.filter((l) => l.actionId === p.action_id).map((l) => l.msg);
    expect(about).toEqual(['authorization requested', 'authorization decided', 'directive delivered', 'authorization finished']);
    const decided = lines.find((l) => l.actionId === p.action_id && l.msg === 'authorization decided');
    expect(decided).toMatchObject({ level: 30, adminId: expect.any(Number), status: 'APPROVED' });
  });

  it('a replay is counted by its size; sockets are logged as counts per namespace, not one line each', async () => {
    const c = await cast(s);
    const replayer = await connect(s.url, 'chat', { token: c.requester.token, last_id: 0 });
    await replayer.waitEvent('replay:done');
    expect(sample(await metrics(), 'echocenter_replay_messages_count')).toBeGreaterThanOrEqual(1);
    (s.app.hub as any).connections.flush();
    const counts = lines.filter((l) => l.msg === 'sockets connected');
    expect(counts.length).toBeGreaterThanOrEqual(1);
    expect(counts[counts.length - 1].sockets).toEqual({ chat: expect.any(Number), agents: expect.any(Number), monitor: expect.any(Number) });
    expect(counts[counts.length - 1].sockets.chat).toBeGreaterThanOrEqual(5);
    expect(lines.filter((l) => /connect/i.test(l.msg) && l.msg !== 'sockets connected')).toEqual([]);
  });
});
