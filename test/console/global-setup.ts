import { ensureConsoleBuilt } from './console-kit';

/**
 * Jest's global setup: builds the web console once, before any worker starts, when dist/console is
 * missing or older than its sources, so that parallel browser suites never build it at the same time.
 */
export default function buildConsole(): void {
  ensureConsoleBuilt();
}
