/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The console's main story in two browsers: a member asks the Butler to have an agent do something,
 * an admin sees the request appear live and approves it, the agent (a test socket) answers, and the
 * member's page shows every status and the outcome without a reload.
 */
import type { Browser, Page } from 'playwright-core';
import { closeAll, createAgent, createHuman, okAck, openWith, startTestApp, type TestApp, type TestClient, uniqueName } from '../support';
import { cspViolations, HAVE_CHROMIUM, launchChromium, openConsole, signIn, warnIfNoChromium } from './console-kit';

warnIfNoChromium('console/approval-flow');

(HAVE_CHROMIUM ? describe : describe.skip)('console: asking the Butler, approving, the agent answering (Chromium)', () => {
  let browser: Browser;
  let s: TestApp;
  let agentName: string;
  let agentId: number;
  let agent: TestClient;
  let member: { name: string; page: Page };
  let admin: Page;

  beforeAll(async () => {
    [browser, s] = await Promise.all([launchChromium(), startTestApp()]);
    agentName = uniqueName('worker');
    const created = await createAgent(s.api, s.adminToken, agentName, 'runs jobs');
    agentId = created.agent.id;
    agent = await openWith(s.url, 'agents', created.token);
    const name = uniqueName('mia');
    await createHuman(s.api, s.adminToken, name, 'MEMBER', 'member-password');
    const m = await openConsole(browser, s.url);
    await signIn(m.page, name, 'member-password');
    member = { name, page: m.page };
    const a = await openConsole(browser, s.url);
    await signIn(a.page, 'admin', 'admin123');
    admin = a.page;
  }, 60_000);
  afterAll(async () => {
    closeAll();
    await browser?.close();
    await s?.close();
  });

  it('takes a request from the member to an approved, executed and completed action, live on both pages', async () => {
    const page = member.page;
    // The Butler's conversation is open first; Enter sends.
    await page.getByRole('link', { name: /Butler/ }).first().waitFor();
    await admin.getByRole('link', { name: 'Approvals' }).click();
    await page.getByLabel('Message').fill(`ask ${agentName} to rotate the logs`);
    await page.getByLabel('Message').press('Enter');

    // The member sees their line stored, then the Butler's answer and the request card, pending.
    await page.locator('.line.mine[data-state="sent"]', { hasText: 'rotate the logs' }).waitFor();
    const memberCard = page.locator('.auth-card', { hasText: 'rotate the logs' });
    await memberCard.locator('[data-testid="auth-status"]', { hasText: 'Waiting for an admin' }).waitFor();
    expect(await memberCard.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await memberCard.locator('.countdown').waitFor();

    // The admin's inbox shows it without a reload: agent, command, requester, countdown.
    const adminCard = admin.locator('.auth-card', { hasText: 'rotate the logs' });
    await adminCard.waitFor();
    const adminText = await adminCard.textContent();
    expect(adminText).toContain(agentName);
    expect(adminText).toContain(`Requested by ${member.name}`);
    expect(adminText).toMatch(/expires in \d+:\d\d/);
    await adminCard.getByRole('button', { name: 'Approve' }).click();

    // The directive reaches the agent; the member's card follows each status.
    const directive = await agent.waitFor((e) => e.type === 'CHAT' && e.payload === '[DIRECTIVE] rotate the logs', 10_000);
    await memberCard.locator('[data-testid="auth-status"]', { hasText: 'Running on the agent' }).waitFor();
    okAck(await agent.send({ type: 'CHAT', target_id: directive.sender_id, payload: 'logs rotated, 3 files archived', reply_to: directive.id }));

    await memberCard.locator('[data-testid="auth-status"]', { hasText: 'Completed' }).waitFor();
    await memberCard.locator('.result', { hasText: 'logs rotated, 3 files archived' }).waitFor();
    expect(await memberCard.locator('.timeline li').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))).toEqual(['PENDING', 'APPROVED', 'EXECUTING', 'COMPLETED']);
    // The Butler reports the outcome as a chat line too.
    await page.locator('.line.theirs', { hasText: `${agentName} finished "rotate the logs"` }).waitFor();

    // The admin's card moved to the decided list, with who decided.
    const decided = admin.locator('section[aria-labelledby="decided-title"] .auth-card', { hasText: 'rotate the logs' });
    await decided.locator('[data-testid="auth-status"]', { hasText: 'Completed' }).waitFor();
    expect(await decided.textContent()).toContain('decided by admin');
    expect(await admin.locator('section[aria-labelledby="pending-title"] .auth-card', { hasText: 'rotate the logs' }).count()).toBe(0);

    // The monitor shows the Butler↔agent traffic of it.
    await admin.getByRole('link', { name: 'Monitor' }).click();
    await admin.locator('.feed-traffic', { hasText: '[DIRECTIVE] rotate the logs' }).waitFor();
    await admin.getByLabel('Agent').selectOption(String(agentId));
    await admin.locator('.feed-traffic', { hasText: 'logs rotated, 3 files archived' }).waitFor();

    // A reload rebuilds the same timeline from history (the session survives in the tab).
    await page.reload();
    const reloaded = page.locator('.auth-card', { hasText: 'rotate the logs' });
    await reloaded.locator('[data-testid="auth-status"]', { hasText: 'Completed' }).waitFor();
    expect(await reloaded.locator('.timeline li').count()).toBe(4);
  });

  it('holds the buttons while a decision is in flight and says when someone else decided first (409)', async () => {
    const page = member.page;
    await page.getByLabel('Message').fill(`ask ${agentName} to delete the cache`);
    await page.getByRole('button', { name: 'Send' }).click();
    await admin.getByRole('link', { name: /Approvals/ }).click();
    const card = admin.locator('section[aria-labelledby="pending-title"] .auth-card', { hasText: 'delete the cache' });
    await card.waitFor();
    const actionId = (await card.getAttribute('data-action-id'))!;

    // Hold the admin's decision in the browser while another admin rejects through the API.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await admin.route('**/api/chat/auth/response', async (route) => {
      await held;
      await route.continue();
    });
    await card.getByLabel(/Reason/).fill('not now');
    await card.getByRole('button', { name: 'Approve' }).click();
    expect(await card.getByRole('button', { name: 'Approve' }).isDisabled()).toBe(true);
    expect(await card.getByRole('button', { name: 'Reject' }).isDisabled()).toBe(true);
    const other = await s.api.post('/api/chat/auth/response', { action_id: actionId, approved: false, reason: 'the cache is in use' }, s.adminToken);
    expect(other.status).toBe(200);
    release();

    const decided = admin.locator('.auth-card', { hasText: 'delete the cache' });
    await decided.getByRole('alert').filter({ hasText: 'Already decided by someone else' }).waitFor();
    await decided.locator('[data-testid="auth-status"]', { hasText: 'Rejected' }).waitFor();
    await admin.unroute('**/api/chat/auth/response');

    // The member sees the rejection and its reason.
    const memberCard = page.locator('.auth-card', { hasText: 'delete the cache' });
    await memberCard.locator('[data-testid="auth-status"]', { hasText: 'Rejected' }).waitFor();
    await memberCard.locator('.result', { hasText: 'the cache is in use' }).waitFor();
    await page.locator('.line.theirs', { hasText: 'the cache is in use' }).waitFor();
  });

  it('rejects from the inbox with a reason the member then reads', async () => {
    const page = member.page;
    await page.getByLabel('Message').fill(`ask ${agentName} to drop the staging tables`);
    await page.getByLabel('Message').press('Enter');
    await admin.getByRole('link', { name: /Approvals/ }).click();
    const card = admin.locator('section[aria-labelledby="pending-title"] .auth-card', { hasText: 'drop the staging tables' });
    await card.getByLabel(/Reason/).fill('staging is frozen this week');
    await card.getByRole('button', { name: 'Reject' }).click();
    const memberCard = page.locator('.auth-card', { hasText: 'drop the staging tables' });
    await memberCard.locator('[data-testid="auth-status"]', { hasText: 'Rejected' }).waitFor();
    await memberCard.locator('.result', { hasText: 'staging is frozen this week' }).waitFor();
    expect(await memberCard.locator('.timeline li').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))).toEqual(['PENDING', 'REJECTED']);
  });

  it('filters the monitor by level: an agent\'s ERROR log shows alone, the Butler traffic is hidden', async () => {
    okAck(await agent.send({ type: 'SYSTEM_LOG', payload: { level: 'ERROR', content: 'disk almost full' } }));
    okAck(await agent.send({ type: 'SYSTEM_LOG', payload: { level: 'INFO', content: 'heartbeat ok' } }));
    await admin.getByRole('link', { name: 'Monitor' }).click();
    await admin.getByLabel('Agent').selectOption('');
    await admin.locator('.feed-log', { hasText: 'heartbeat ok' }).waitFor();
    await admin.locator('.feed-traffic').first().waitFor();
    await admin.getByLabel('Level').selectOption('ERROR');
    await admin.locator('.feed-log', { hasText: 'heartbeat ok' }).waitFor({ state: 'detached' });
    expect(await admin.locator('.feed li').allTextContents()).toEqual([expect.stringContaining('disk almost full')]);
  });

  it('keeps the agents list live from PRESENCE: status reports and going offline appear without a reload', async () => {
    await admin.getByRole('link', { name: 'Agents' }).click();
    const card = admin.locator(`li.agent[data-agent="${agentName}"]`);
    await card.locator('.presence', { hasText: 'online' }).waitFor();
    okAck(await agent.send({ type: 'AGENT_STATUS', payload: { status: 'busy', report: 'compacting 2 of 5' } }));
    await card.locator('.agent-status', { hasText: 'busy' }).waitFor();
    await card.locator('.agent-report', { hasText: 'compacting 2 of 5' }).waitFor();
    agent.close();
    await card.locator('.presence', { hasText: 'offline' }).waitFor();
    expect(await card.getAttribute('data-online')).toBe('false');
  });

  it('ran all of the above without a single Content-Security-Policy violation (same origin only)', () => {
    expect(cspViolations).toEqual([]);
  });
});
