/**
 * What the console's browser tests share: a console build that matches the sources (built once,
 * again only when a source file is newer), Debian's Chromium, and signing in as a person would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = join(__dirname, '..', '..');
const SOURCES = join(ROOT, 'src', 'console');
const INDEX = join(ROOT, 'dist', 'console', 'index.html');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** Warns loudly (once per suite) that the browser tests did not run. */
export function warnIfNoChromium(suite: string): void {
  if (HAVE_CHROMIUM) return;
  // eslint-disable-next-line no-console
  console.warn(
    `\n!!! [${suite}] SKIPPED: no Chromium at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` ` +
      'or point CHROMIUM_PATH at one. CI installs it; a green run here did NOT test the console. !!!\n',
  );
}

function newestSource(dir: string = SOURCES): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    // The README's screenshot lives beside the sources but is not built.
    if (e.name.endsWith('.png')) continue;
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds the console into dist/console unless a build newer than every source (and src/shared) is
 * there. Jest runs it once in its global setup (test/console/global-setup.ts), never per suite: a
 * rebuild while another suite serves the files would pull them from under it.
 */
export function ensureConsoleBuilt(): void {
  const built = existsSync(INDEX) ? statSync(INDEX).mtimeMs : 0;
  if (built > Math.max(newestSource(), newestSource(join(ROOT, 'src', 'shared')))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'src/console', '--logLevel', 'error'], { cwd: ROOT, stdio: 'inherit' });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Console messages about the Content-Security-Policy, from every page opened with openConsole. */
export const cspViolations: string[] = [];

/** A fresh browser context (its own sessionStorage: another person) with one page on the console. */
export async function openConsole(browser: Browser, url: string, viewport = { width: 1200, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  // confirm() before deleting or rotating: a person clicks OK.
  page.on('dialog', (d) => void d.accept());
  await page.goto(url);
  return { context, page };
}

/** Signs in through the form and waits until the console is live. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
