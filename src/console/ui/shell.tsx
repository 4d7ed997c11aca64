/**
 * The signed-in console: owns the state, the REST client and the live connection for one session,
 * loads what the screens start from, and lays out navigation, the connection banner and the screen.
 * Admin screens are not even linked for members (and the server refuses their data anyway).
 */
import { useEffect, useMemo } from 'preact/hooks';
import { Api } from '../client/api';
import { connectLive, type Live } from '../client/realtime';
import { ConsoleState, type UserObject } from '../state/console-state';
import { AdminScreen } from './admin';
import { AgentsScreen } from './agents';
import { ApprovalsScreen } from './approvals';
import { ChatScreen } from './chat';
import { useConsoleState, usePath } from './hooks';
import { MonitorScreen } from './monitor';

const REVOKED = 'Your session has expired or was revoked. Sign in again.';

export interface Ctx {
  state: ConsoleState;
  api: Api;
  live: Live;
  go(path: string): void;
}

export function Shell({ token, user, onSignOut }: { token: string; user: UserObject; onSignOut(message?: string): void }) {
  const ctx = useMemo(() => {
    const state = new ConsoleState({ id: user.id, username: user.username, role: user.role });
    let ended = false;
    const end = (message?: string) => {
      if (ended) return;
      ended = true;
      live.close();
      onSignOut(message);
    };
    const api = new Api(token, () => end(REVOKED));
    const live: Live = connectLive({
      token,
      state,
      onRevoked: () => end(REVOKED),
      onConnect: (first) => {
        // A 401 here ends the session through the Api; after any other failure the next connect retries.
        if (first || !state.butler) loadStart(state, api).catch((err: unknown) => console.warn('could not load the start data', err));
      },
    });
    return { state, api, live, end };
  }, [token]);
  useEffect(() => () => ctx.live.close(), [ctx]);
  const [path, go] = usePath();
  useConsoleState(ctx.state);
  const { state } = ctx;
  const admin = state.isAdmin;
  const pending = admin ? state.auth.pending().length : 0;

  const nav: [string, string][] = [
    ['/', 'Conversations'],
    ['/agents', 'Agents'],
    ...(admin ? ([['/approvals', pending ? `Approvals (${pending})` : 'Approvals'], ['/monitor', 'Monitor'], ['/admin', 'Administration']] as [string, string][]) : []),
  ];
  const screen = pickScreen(path, admin);
  const full: Ctx = { state, api: ctx.api, live: ctx.live, go };

  return (
    <div class="shell">
      <header class="top">
        <span class="brand">EchoCenter</span>
        <nav aria-label="Main">
          {nav.map(([href, label]) => (
            <a
              href={href}
              aria-current={screenOf(href) === screen ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                go(href);
              }}
            >
              {label}
            </a>
          ))}
        </nav>
        <span class="me">
          {user.username} <small>({user.role.toLowerCase()})</small>
        </span>
        <button type="button" class="link" onClick={() => ctx.end()}>
          Sign out
        </button>
      </header>
      {state.connection === 'offline' && (
        <div class="banner" role="status" data-testid="connection-banner">
          Connection lost. Reconnecting… Messages sent to you meanwhile will appear once it is back.
        </div>
      )}
      <main class="screen">
        {screen === 'chat' && <ChatScreen ctx={full} path={path} />}
        {screen === 'agents' && <AgentsScreen ctx={full} />}
        {screen === 'approvals' && <ApprovalsScreen ctx={full} />}
        {screen === 'monitor' && <MonitorScreen ctx={full} />}
        {screen === 'admin' && <AdminScreen ctx={full} />}
        {screen === 'denied' && (
          <p class="notice" role="alert">
            This page is for admins only.
          </p>
        )}
      </main>
    </div>
  );
}

type ScreenName = 'chat' | 'agents' | 'approvals' | 'monitor' | 'admin' | 'denied';

function screenOf(path: string): ScreenName {
  if (path.startsWith('/agents')) return 'agents';
  if (path.startsWith('/approvals')) return 'approvals';
  if (path.startsWith('/monitor')) return 'monitor';
  if (path.startsWith('/admin')) return 'admin';
  return 'chat';
}

function pickScreen(path: string, admin: boolean): ScreenName {
  const s = screenOf(path);
  return !admin && (s === 'approvals' || s === 'monitor' || s === 'admin') ? 'denied' : s;
}

/** What every screen starts from, read once after the first connect (later changes arrive live). */
async function loadStart(state: ConsoleState, api: Api): Promise<void> {
  const [butler, agents] = await Promise.all([api.butler(), api.agents()]);
  state.setButler(butler);
  state.setAgents(agents);
  if (state.openPeer === undefined) state.open(butler.id);
  const requests = await api.authRequests();
  for (const r of requests) state.auth.fromRest(r);
  state.changed();
  if (state.isAdmin) {
    const [users, log] = await Promise.all([api.users(), api.systemLog()]);
    state.setPeople(users);
    for (const entry of log) state.feed.log(entry);
    state.changed();
  }
}
