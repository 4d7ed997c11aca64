import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Envelope } from '../../src/shared/protocol';
import { closeAll, createAgent, createHuman, dbKinds, okAck, openWith, startTestApp, type TestApp, warnIfPostgresSkipped, withPayload } from '../support';

/** What the page's script puts on `window` (the tests have no DOM typings). */
interface PageApi {
  io?: unknown;
  received: Envelope[];
  start(username: string, password: string): Promise<{ id: number; username: string }>;
  sendChat(target: number, payload: string): Promise<unknown>;
  transport(): string;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  // eslint-disable-next-line no-console
  console.warn(
    `\n!!! [realtime/browser] SKIPPED: no Chromium at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` ` +
      'or point CHROMIUM_PATH at one. CI installs it; a green run here did NOT test the browser path. !!!\n',
  );
}

/**
 * A page as a browser app would write it: the client library from the server's own
 * /socket.io/socket.io.js, a REST login, then /chat with the JWT. Served on the app's origin.
 */
const PAGE = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>EchoCenter browser test</title><script src="/socket.io/socket.io.js"></script></head>
  <body>
    <p id="status">idle</p>
    <ul id="log"></ul>
    <script>
      window.received = [];
      window.start = async (username, password) => {
        const res = await fetch('/api/auth/login', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username, password }),
        });
        if (res.status !== 200) throw new Error('login failed: ' + res.status);
        const { token, user } = await res.json();
        window.socket = io('/chat', { auth: { token } });
        window.socket.on('message', (e) => {
          window.received.push(e);
          const li = document.createElement('li');
          li.dataset.id = e.id ?? '';
          li.dataset.type = e.type;
          li.textContent = e.sender_name + ': ' + (typeof e.payload === 'string' ? e.payload : JSON.stringify(e.payload));
          document.getElementById('log').appendChild(li);
        });
        await new Promise((resolve, reject) => {
          window.socket.once('connect', resolve);
          window.socket.once('connect_error', reject);
        });
        document.getElementById('status').textContent = 'connected';
        return user;
      };
      window.sendChat = (target_id, payload) =>
        window.socket.timeout(10000).emitWithAck('message', { type: 'CHAT', target_id, payload, local_id: 'browser-' + Date.now() });
      window.transport = () => window.socket.io.engine.transport.name;
    </script>
  </body>
</html>`;

(HAVE_CHROMIUM ? describe : describe.skip)('browser client (headless Chromium)', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(dbKinds())('on %s', (kind) => {
    let s: TestApp;
    let page: Page;

    beforeAll(async () => {
      warnIfPostgresSkipped('realtime/browser');
      s = await startTestApp({ db: kind });
      page = await browser.newPage();
      // The page lives on the app's origin, so its fetch and Socket.IO calls are same-origin.
      await page.route(`${s.url}/browser-test`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
      await page.goto(`${s.url}/browser-test`);
    }, 30_000);
    afterAll(async () => {
      closeAll();
      await page?.close();
      await s?.close();
    });

    it('loads /socket.io/socket.io.js, logs in through REST, connects to /chat and exchanges CHATs with an agent both ways', async () => {
      await createHuman(s.api, s.adminToken, 'browser-user', 'MEMBER', 'browser-password');
      const bot = await createAgent(s.api, s.adminToken, 'browser-bot');
      const agent = await openWith(s.url, 'agents', bot.token);
      expect(await page.evaluate(() => typeof (globalThis as unknown as PageApi).io)).toBe('function');

      const user = await page.evaluate(([u, p]) => (globalThis as unknown as PageApi).start(u, p), ['browser-user', 'browser-password'] as const);
      expect(user).toMatchObject({ username: 'browser-user', role: 'MEMBER' });
      await page.waitForSelector('#status:text("connected")');

      // Browser → agent.
      const ack = (await page.evaluate(([target, text]) => (globalThis as unknown as PageApi).sendChat(target, text), [bot.agent.id, 'hello from chromium'] as const)) as {
        ok: boolean;
        id: number;
      };
      expect(ack).toMatchObject({ ok: true, id: expect.any(Number) });
      const atAgent = await agent.waitFor(withPayload('hello from chromium'));
      expect(atAgent).toMatchObject({ id: ack.id, sender_id: user.id, sender_name: 'browser-user', sender_role: 'MEMBER', target_id: bot.agent.id });

      // Agent → browser.
      const reply = okAck(await agent.send({ type: 'CHAT', target_id: user.id, payload: 'hello from the agent', reply_to: ack.id }));
      await page.waitForSelector(`li[data-id="${reply.id}"]`);
      expect(await page.textContent(`li[data-id="${reply.id}"]`)).toBe('browser-bot: hello from the agent');
      const inBrowser = (await page.evaluate(() => (globalThis as unknown as PageApi).received)).filter((e) => e.type === 'CHAT');
      expect(inBrowser).toEqual([expect.objectContaining({ id: reply.id, sender_id: bot.agent.id, payload: 'hello from the agent', reply_to: ack.id })]);
      // The browser's default transports were used (long-polling first, usually upgraded to websocket).
      expect(['polling', 'websocket']).toContain(await page.evaluate(() => (globalThis as unknown as PageApi).transport()));
    });
  });
});
