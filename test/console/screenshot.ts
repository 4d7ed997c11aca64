/**
 * Remakes the README's picture of the console: `npm run screenshot` starts the real app on a fresh
 * SQLite database, lets a member ask the Butler for two agent actions, an admin approve the first
 * (the agent, a test socket, answers it) and leaves the second pending, then photographs the
 * member's Butler conversation into src/console/assets/console-butler.png. Run it again whenever
 * the console changes. No jest: `node test/console/run-ts.js test/console/screenshot.ts`.
 */
import { join } from 'node:path';
import { closeAll, createAgent, createHuman, okAck, openWith, startTestApp } from '../support';
import { ensureConsoleBuilt, HAVE_CHROMIUM, CHROMIUM, launchChromium, openConsole, signIn } from './console-kit';

const OUT = join(__dirname, '..', '..', 'src', 'console', 'assets', 'console-butler.png');

async function main(): Promise<void> {
  if (!HAVE_CHROMIUM) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  ensureConsoleBuilt();
  const s = await startTestApp();
  const browser = await launchChromium();
  try {
    const bot = await createAgent(s.api, s.adminToken, 'backup-bot', 'Backs up and restores the databases');
    const agent = await openWith(s.url, 'agents', bot.token);
    okAck(await agent.send({ type: 'AGENT_STATUS', payload: { status: 'idle', report: 'last backup 02:00, 1.2 GB' } }));
    await createHuman(s.api, s.adminToken, 'mia', 'MEMBER', 'mia-password');

    const { page } = await openConsole(browser, s.url, { width: 1200, height: 1000 });
    await signIn(page, 'mia', 'mia-password');
    const { page: admin } = await openConsole(browser, s.url);
    await signIn(admin, 'admin', 'admin123');
    await admin.getByRole('link', { name: /Approvals/ }).click();

    const say = async (text: string) => {
      await page.getByLabel('Message').fill(text);
      await page.getByLabel('Message').press('Enter');
    };
    await say('list agents');
    await page.locator('.line.theirs', { hasText: 'backup-bot' }).first().waitFor();
    await say('ask backup-bot to back up the orders database');
    await admin.locator('.auth-card', { hasText: 'orders database' }).getByRole('button', { name: 'Approve' }).click();
    const directive = await agent.waitFor((e) => e.type === 'CHAT' && String(e.payload).includes('orders database'), 10_000);
    okAck(await agent.send({ type: 'CHAT', target_id: directive.sender_id, payload: 'Backup done: orders-2026-12-02.sql.gz (184 MB), checksum verified.', reply_to: directive.id }));
    await page.locator('.auth-card[data-status="COMPLETED"]').waitFor();
    await page.locator('.line.theirs', { hasText: 'Backup done' }).waitFor();
    await say('ask backup-bot to restore last night\'s backup on staging');
    await page.locator('.auth-card[data-status="PENDING"]', { hasText: 'staging' }).waitFor();
    await page.getByLabel('Message').fill('thanks!');
    await page.screenshot({ path: OUT });
    console.log(`wrote ${OUT}`);
  } finally {
    closeAll();
    await browser.close();
    await s.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
