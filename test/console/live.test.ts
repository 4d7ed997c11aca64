/**
 * The console's live connection in Chromium: a Butler reply that streams in pieces, the banner while
 * the socket is gone and a replay after it that shows every message once, history paged in on
 * scrolling up, and a revoked session that returns to the sign-in screen with a message.
 */
import type { Browser, Page } from 'playwright-core';
import type { Brain } from '../../src/butler/brain';
import { closeAll, createAgent, createHuman, okAck, openWith, startTestApp, type TestApp, type TestClient, uniqueName } from '../support';
import { HAVE_CHROMIUM, launchChromium, openConsole, signIn, warnIfNoChromium } from './console-kit';

warnIfNoChromium('console/live');

/** A brain whose second chunk waits until the test has seen the first one on the page. */
class SteppedBrain implements Brain {
  readonly mode = 'llm' as const;
  private release: (() => void) | undefined;
  private gate = new Promise<void>((r) => (this.release = r));

  next(): void {
    this.release?.();
  }

  async reply(input: { text: string }, io: { emit(chunk: string): void }): Promise<void> {
    if (!input.text.startsWith('stream')) return io.emit(`You said: ${input.text}`);
    io.emit('The first half');
    await this.gate;
    this.gate = new Promise<void>((r) => (this.release = r));
    io.emit(', and the second half.');
  }
}

(HAVE_CHROMIUM ? describe : describe.skip)('console: live connection (Chromium)', () => {
  let browser: Browser;
  let s: TestApp;
  const brain = new SteppedBrain();
  let agent: TestClient;
  let agentName: string;
  let member: { user: { id: number }; name: string; page: Page };

  beforeAll(async () => {
    [browser, s] = await Promise.all([launchChromium(), startTestApp({ deps: { brain }, env: { MAX_PAYLOAD_BYTES: '1024' } })]);
    agentName = uniqueName('relay');
    const created = await createAgent(s.api, s.adminToken, agentName);
    agent = await openWith(s.url, 'agents', created.token);
    const name = uniqueName('lee');
    const person = await createHuman(s.api, s.adminToken, name, 'MEMBER', 'member-password');
    // 60 older messages from the agent: more than one history page.
    for (let i = 1; i <= 60; i++) okAck(await agent.send({ type: 'CHAT', target_id: person.user.id, payload: `old note ${i}` }));
    const { page } = await openConsole(browser, s.url);
    await signIn(page, name, 'member-password');
    member = { user: person.user, name, page };
  }, 60_000);
  afterAll(async () => {
    closeAll();
    await browser?.close();
    await s?.close();
  });

  it('renders a streamed Butler reply as it arrives, then replaces it with the stored message', async () => {
    const page = member.page;
    await page.getByLabel('Message').fill('stream please');
    await page.getByRole('button', { name: 'Send' }).click();
    const streaming = page.locator('.line[data-state="streaming"]');
    await streaming.filter({ hasText: 'The first half' }).waitFor();
    expect(await streaming.textContent()).not.toContain('second half');
    brain.next();
    const stored = page.locator('.line.theirs[data-state="sent"]', { hasText: 'The first half, and the second half.' });
    await stored.waitFor();
    expect(await stored.getAttribute('data-id')).toMatch(/^\d+$/);
    await streaming.waitFor({ state: 'detached' });
    expect(await page.locator('.line', { hasText: 'The first half' }).count()).toBe(1);
  });

  it('shows a refused send in place with the server\'s reason, pending never turning into sent', async () => {
    const page = member.page;
    const tooLong = `too long ${'x'.repeat(1100)}`;
    await page.getByLabel('Message').fill(tooLong);
    await page.getByLabel('Message').press('Enter');
    const line = page.locator('.line.mine[data-state="failed"]', { hasText: 'too long' });
    await line.getByRole('alert').filter({ hasText: /Not sent: .*(large|bytes)/i }).waitFor();
    await line.getByRole('button', { name: 'Retry' }).waitFor();
    expect(await line.getAttribute('data-id')).toBe('');
  });

  it('pages older history in when scrolled to the top, and counts unread lines of other conversations', async () => {
    const page = member.page;
    const link = page.locator(`a[data-peer="${agentName}"]`);
    // Sent before the member signed in, then one more live: the badge counts only the live one.
    okAck(await agent.send({ type: 'CHAT', target_id: member.user.id, payload: 'new note' }));
    await link.locator('.badge', { hasText: '1' }).waitFor();
    await link.click();
    await page.locator('.line', { hasText: 'new note' }).waitFor();
    await link.locator('.badge').waitFor({ state: 'detached' });
    await page.locator('.line', { hasText: 'old note 12' }).waitFor();
    expect(await page.locator('.line', { hasText: /^.*old note 1$/ }).count()).toBe(0);
    await page.locator('.lines').evaluate((el) => (el.scrollTop = 0));
    await page.locator('.line .text', { hasText: /^old note 1$/ }).waitFor();
    await page.getByText('Start of the conversation').waitFor();
    expect(await page.locator('.line .text', { hasText: /^old note \d+$/ }).count()).toBe(60);
  });

  it('shows a banner while disconnected and, after reconnecting, every message sent meanwhile exactly once', async () => {
    const page = member.page;
    await page.locator(`a[data-peer="${agentName}"]`).click();
    // Keep the page from coming back until the test says so, then drop its socket on the server side.
    await page.route('**/socket.io/**', (route) => route.abort());
    s.app.hub.io.of('/chat').disconnectSockets(true);
    await page.getByTestId('connection-banner').waitFor();

    okAck(await agent.send({ type: 'CHAT', target_id: member.user.id, payload: 'while away 1' }));
    okAck(await agent.send({ type: 'CHAT', target_id: member.user.id, payload: 'while away 2' }));
    await page.unroute('**/socket.io/**');

    await page.getByTestId('connection-banner').waitFor({ state: 'detached', timeout: 20_000 });
    await page.locator('.line .text', { hasText: 'while away 2' }).waitFor();
    okAck(await agent.send({ type: 'CHAT', target_id: member.user.id, payload: 'live again' }));
    await page.locator('.line .text', { hasText: 'live again' }).waitFor();
    for (const text of ['while away 1', 'while away 2', 'live again', 'new note']) {
      expect(await page.locator('.line .text', { hasText: new RegExp(`^${text}$`) }).count()).toBe(1);
    }
  });

  it('returns to sign-in with a message when the session is revoked (the user is deleted)', async () => {
    const page = member.page;
    const res = await s.api.delete(`/api/users/${member.user.id}`, s.adminToken);
    expect(res.status).toBe(204);
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 15_000 });
    await page.getByText('Your session has expired or was revoked. Sign in again.').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });
});
