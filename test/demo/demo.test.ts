/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * `npm run demo`'s own code path (startDemo): the server on SQLite in its data dir, the demo agents
 * registered through the API and connected with the SDK, and a directive answered end to end through
 * the approval flow. A second run on the same data dir reuses the stored tokens.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDemo, type Demo } from '../../src/demo/demo';
import { closeAll, connect, createHuman, login, RestClient, TEST_ENV, type TestClient } from '../support';
import { approve, authUpdate, outcome, request, statusesOf, tempDir, type Flow } from '../sdk/sdk-helpers';

describe('npm run demo (startDemo)', () => {
  const dir = tempDir();
  let demo: Demo | undefined;
  let f: Flow;
  let requester: TestClient;

  beforeAll(async () => {
    demo = await startDemo({ dataDir: dir.path, env: { ...TEST_ENV }, port: 0, chunkDelayMs: 5 });
    const api = new RestClient(demo.url);
    const adminToken = await login(api, 'admin', 'admin123');
    const member = await createHuman(api, adminToken, 'demo_member');
    const butler = (await api.get('/api/users/butler', adminToken)).body.id;
    requester = await connect(demo.url, 'chat', { token: member.token });
    const admin = await connect(demo.url, 'chat', { token: adminToken });
    f = { butler, requester, requesterId: member.user.id, admin, agentId: 0, agentName: '', token: '' };
  });
  afterAll(async () => {
    closeAll();
    await demo?.stop();
    dir.remove();
  });

  it('registers and connects the three demo agents, with their tokens in the data dir (mode 0600)', async () => {
    expect(demo!.agents.map((a) => [a.definition.username, a.origin, a.client.state])).toEqual([
      ['custodian', 'created', 'connected'],
      ['echo', 'created', 'connected'],
      ['narrator', 'created', 'connected'],
    ]);
    expect(statSync(join(dir.path, 'agent-tokens.json')).mode & 0o777).toBe(0o600);
    const listed = await new RestClient(demo!.url).get('/api/users/agents/status', await login(new RestClient(demo!.url), 'admin', 'admin123'));
    expect(listed.body.map((a: any) => [a.username, a.online])).toEqual([
      ['custodian', true],
      ['echo', true],
      ['narrator', true],
    ]);
  });

  it('a member asks the Butler, an admin approves over a socket, the custodian answers with real disk figures', async () => {
    const actionId = await request(f, 'report disk usage', 'custodian');
    await approve(f, actionId);
    const done = await outcome(f, actionId);
    expect(done.status).toBe('COMPLETED');
    expect(done.result).toMatch(new RegExp(`^Disk at ${dir.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: [\\d.]+ [KMGTP]?i?B in total, [\\d.]+ [KMGTP]?i?B used \\([\\d.]+%\\), [\\d.]+ [KMGTP]?i?B available\\.$`));
    expect(statusesOf(f, actionId)).toEqual(['APPROVED', 'EXECUTING', 'COMPLETED']);
    // The requester is told the outcome by the Butler.
    const told = await requester.waitFor((e) => e.type === 'CHAT' && e.sender_id === f.butler && String(e.payload).startsWith('custodian finished'));
    expect(told.payload).toContain('Disk at');
  });

  it('the narrator streams its answer; the action completes with the whole text', async () => {
    const actionId = await request(f, 'count to 5', 'narrator');
    await approve(f, actionId);
    expect(await outcome(f, actionId)).toEqual({ status: 'COMPLETED', result: '1, 2, 3, 4, 5.' });
  });

  it('the echo agent echoes', async () => {
    const actionId = await request(f, 'echo hello demo', 'echo');
    await approve(f, actionId);
    expect(await outcome(f, actionId)).toEqual({ status: 'COMPLETED', result: 'hello demo' });
    expect(requester.received.filter(authUpdate(actionId, 'COMPLETED'))).toHaveLength(1);
  });

  it('a second run on the same data dir reuses the stored tokens, and a refused stored token is rotated', async () => {
    closeAll();
    await demo!.stop();
    const file = join(dir.path, 'agent-tokens.json');
    const tokens = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...tokens, echo: 'ec_not_a_valid_token_anymore' }));
    demo = await startDemo({ dataDir: dir.path, env: { ...TEST_ENV }, port: 0 });
    expect(demo.agents.map((a) => [a.definition.username, a.origin, a.client.state])).toEqual([
      ['custodian', 'reused', 'connected'],
      ['echo', 'rotated', 'connected'],
      ['narrator', 'reused', 'connected'],
    ]);
    expect(JSON.parse(readFileSync(file, 'utf8')).custodian).toBe(tokens.custodian);
  });
});
