/**
 * Who sees what in the console (Chromium): the sign-in messages, a member who never gets the admin
 * screens, and the administration screens, where a new or rotated agent token is shown once.
 */
import type { Browser, Page } from 'playwright-core';
import { closeAll, createAgent, createHuman, eventually, startTestApp, type TestApp, uniqueName } from '../support';
import { HAVE_CHROMIUM, launchChromium, openConsole, signIn, warnIfNoChromium } from './console-kit';

warnIfNoChromium('console/access');

(HAVE_CHROMIUM ? describe : describe.skip)('console: sign-in, roles and administration (Chromium)', () => {
  let browser: Browser;
  let s: TestApp;

  beforeAll(async () => {
    [browser, s] = await Promise.all([launchChromium(), startTestApp()]);
  }, 60_000);
  afterAll(async () => {
    closeAll();
    await browser?.close();
    await s?.close();
  });

  async function fresh(): Promise<Page> {
    return (await openConsole(browser, s.url)).page;
  }

  it('says "wrong username or password" for bad credentials, and that it is rate limited after 10 failures', async () => {
    const page = await fresh();
    const name = uniqueName('typo');
    await createHuman(s.api, s.adminToken, name, 'MEMBER', 'right-password');
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
    for (let i = 2; i <= 10; i++) {
      expect((await s.api.post('/api/auth/login', { username: name, password: 'wrong-password' })).status).toBe(401);
    }
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Too many failed attempts' }).waitFor();
  });

  it('returns to sign-in with a message once the token has expired, at the next reconnect', async () => {
    const short = await startTestApp({ env: { JWT_EXPIRES_IN: '2s' } });
    try {
      const { page } = await openConsole(browser, short.url);
      await signIn(page, 'admin', 'admin123');
      await page.getByLabel('Message').waitFor();
      // The socket outlives the token; the console finds out when it next connects.
      await eventually(async () => {
        short.app.hub.io.of('/chat').disconnectSockets(true);
        await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 500 });
      }, 15_000);
      await page.getByText('Your session has expired or was revoked. Sign in again.').waitFor();
      await page.close();
    } finally {
      await short.close();
    }
  });

  it('never shows a member the admin screens: no links, and a typed admin URL shows nothing of them', async () => {
    const name = uniqueName('mem');
    await createHuman(s.api, s.adminToken, name, 'MEMBER', 'member-password');
    const page = await fresh();
    await signIn(page, name, 'member-password');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Agents' }).waitFor();
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Conversations', 'Agents']);
    for (const path of ['/admin', '/approvals', '/monitor']) {
      await page.goto(s.url + path);
      await page.getByText('This page is for admins only.').waitFor();
      expect(await page.getByRole('button', { name: /Create|Approve|Rotate/ }).count()).toBe(0);
      expect(await page.getByLabel('Level').count()).toBe(0);
    }
  });

  it('lets an admin create a user who can then sign in, and delete them', async () => {
    const page = await fresh();
    await signIn(page, 'admin', 'admin123');
    await page.getByRole('link', { name: 'Administration' }).click();
    const name = uniqueName('newbie');
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password', { exact: true }).fill('newbie-password');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator(`tr[data-user="${name}"]`).waitFor();
    expect((await s.api.post('/api/auth/login', { username: name, password: 'newbie-password' })).status).toBe(200);
    await page.getByRole('button', { name: `Delete ${name}` }).click();
    await page.locator(`tr[data-user="${name}"]`).waitFor({ state: 'detached' });
    expect((await s.api.post('/api/auth/login', { username: name, password: 'newbie-password' })).status).toBe(401);
  });

  it('shows a created or rotated agent token once, with a copy button; the old token stops working', async () => {
    const page = await fresh();
    await signIn(page, 'admin', 'admin123');
    await page.getByRole('link', { name: 'Administration' }).click();

    const name = uniqueName('made');
    await page.getByLabel('Agent name').fill(name);
    await page.getByRole('button', { name: 'Create agent' }).click();
    const created = (await page.getByTestId('api-token').textContent())!;
    expect((await s.api.post('/api/users/agents/test-connection', { api_token: created }, s.adminToken)).body).toMatchObject({ valid: true, username: name });
    await page.getByRole('button', { name: 'Copy' }).waitFor();

    const other = await createAgent(s.api, s.adminToken, uniqueName('rot'));
    await page.reload();
    // A reload forgets the token that was shown.
    await page.locator(`tr[data-agent="${other.agent.username}"]`).waitFor();
    expect(await page.getByTestId('api-token').count()).toBe(0);
    expect(await page.content()).not.toContain(created);

    await page.getByRole('button', { name: `Rotate token of ${other.agent.username}` }).click();
    const rotated = (await page.getByTestId('api-token').textContent())!;
    expect(rotated).not.toBe(other.token);
    expect((await s.api.post('/api/users/agents/test-connection', { api_token: rotated }, s.adminToken)).body).toMatchObject({ valid: true, agent_id: other.agent.id });

    // The page's own Test connection says the old token is dead and the new one works.
    await page.getByLabel('API token to test').fill(other.token);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('Not valid: no agent has this token.').waitFor();
    await page.getByLabel('API token to test').fill(rotated);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText(`Valid: the token of ${other.agent.username}`).waitFor();
    await page.getByLabel('API token to test').fill('');

    // Dismissed, it is gone for good; only the hint stays.
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.getByTestId('api-token').count()).toBe(0);
    expect(await page.content()).not.toContain(rotated);
    await page.reload();
    const row = page.locator(`tr[data-agent="${other.agent.username}"]`);
    await row.waitFor();
    expect(await row.locator('.hint').textContent()).toMatch(/…/);
    expect(await page.content()).not.toContain(rotated);
  });

  it('fits a phone: at 375 px nothing overflows sideways and Send stays reachable', async () => {
    const { page } = await openConsole(browser, s.url, { width: 375, height: 740 });
    await signIn(page, 'admin', 'admin123');
    await page.getByLabel('Message').waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    const send = await page.getByRole('button', { name: 'Send' }).boundingBox();
    expect(send!.x + send!.width).toBeLessThanOrEqual(375);
  });
});
