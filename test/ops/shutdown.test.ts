import type { LogFaults } from '../../src/messages/log/message-log.service';
import { createAgent, createHuman, eventually, openWith, sleep, startTestApp } from '../support';

// Shutdown in one process, where the drain can be held open: readiness answers 503 from the moment
// shutdown starts, while the listener is still open; the sockets are let go at once (their clients
// reconnect elsewhere and resend), and the shutdown waits for a commit in flight. test/cluster/sigterm does the same with SIGTERM
// to a real process, where the drain is usually too short to be seen between two polls.
describe('shutdown while a commit is in flight', () => {
  it('answers /readyz 503 at once, keeps /healthz 200, lets the sockets go and waits for the commit', async () => {
    let hold: Promise<void> | undefined;
    let release!: () => void;
    let held = false;
    const faults: LogFaults = {
      beforeCommit: async () => {
        held = true;
        await hold;
      },
    };
    const s = await startTestApp({ deps: { logFaults: faults } });
    try {
      const member = await createHuman(s.api, s.adminToken, 'shut-member');
      const agent = await createAgent(s.api, s.adminToken, 'shut-agent');
      const m = await openWith(s.url, 'chat', member.token);
      await openWith(s.url, 'agents', agent.token);
      expect((await s.api.get('/readyz')).status).toBe(200);

      hold = new Promise<void>((resolve) => (release = resolve));
      const ack = m.send({ type: 'CHAT', target_id: agent.agent.id, payload: 'in flight' });
      await eventually(() => held);
      let closed = false;
      const closing = s.app.close().then(() => (closed = true));
      expect(await m.disconnected()).toBeTruthy();
      await expect(ack).rejects.toThrow(/disconnected/); // the client resends on its next replica
      await sleep(50);
      const ready = await s.api.get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ code: 'UNAVAILABLE' });
      expect((await s.api.get('/healthz')).status).toBe(200);

      // The commit is still held: the shutdown waits for it.
      expect(closed).toBe(false);
      release();
      await closing;
      await expect(s.api.get('/readyz')).rejects.toThrow();
    } finally {
      release?.();
      await s.close();
    }
  });
});
