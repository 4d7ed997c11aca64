/** Agents with live presence and status: read once, then kept current by PRESENCE (no polling). */
import { clock } from '../state/format';
import type { Ctx } from './shell';

export function AgentsScreen({ ctx }: { ctx: Ctx }) {
  const agents = [...ctx.state.agents.values()].filter((a) => a.role === 'AGENT').sort((a, b) => a.id - b.id);
  const butler = ctx.state.butler;
  return (
    <section aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      {butler && (
        <p class="muted">
          The Butler ({butler.username}) runs in {butler.mode === 'llm' ? 'model' : 'rule-based'} mode.
        </p>
      )}
      {agents.length === 0 && <p class="muted">No agents yet.{ctx.state.isAdmin ? ' Create one under Administration.' : ''}</p>}
      <ul class="cards">
        {agents.map((a) => (
          <li key={a.id} class="agent" data-agent={a.username} data-online={String(!!a.online)}>
            <h3>
              <span class={`dot ${a.online ? 'on' : 'off'}`} aria-hidden="true" /> {a.username}{' '}
              <small class="presence">{a.online ? 'online' : 'offline'}</small>
            </h3>
            {a.description && <p>{a.description}</p>}
            <dl>
              <dt>Status</dt>
              <dd class="agent-status">{a.status ?? '—'}</dd>
              <dt>Last report</dt>
              <dd class="agent-report">{a.last_report ?? '—'}</dd>
              <dt>Last seen</dt>
              <dd>{a.online ? 'now' : a.last_seen_at ? `${new Date(a.last_seen_at).toLocaleDateString()} ${clock(a.last_seen_at)}` : 'never'}</dd>
            </dl>
            <a
              href={`/chat/${a.id}`}
              onClick={(e) => {
                e.preventDefault();
                ctx.go(`/chat/${a.id}`);
              }}
            >
              Open conversation
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}
