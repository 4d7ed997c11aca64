/** The admins' monitor: Butler↔agent traffic and the system log, live, filtered by agent and level. */
import { useState } from 'preact/hooks';
import { clock } from '../state/format';
import type { Ctx } from './shell';

const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'SUCCESS'];

export function MonitorScreen({ ctx }: { ctx: Ctx }) {
  const [agent, setAgent] = useState('');
  const [level, setLevel] = useState('');
  const agents = [...ctx.state.agents.values()].filter((a) => a.role === 'AGENT');
  const entries = ctx.state.feed.view({ agentId: agent ? Number(agent) : undefined, level: level || undefined });
  return (
    <section aria-labelledby="monitor-title">
      <h2 id="monitor-title">Monitor</h2>
      <div class="filters">
        <label for="filter-agent">Agent</label>
        <select id="filter-agent" value={agent} onChange={(e) => setAgent(e.currentTarget.value)}>
          <option value="">All agents</option>
          {agents.map((a) => (
            <option value={String(a.id)}>{a.username}</option>
          ))}
        </select>
        <label for="filter-level">Level</label>
        <select id="filter-level" value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
          <option value="">All (with Butler traffic)</option>
          {LEVELS.map((l) => (
            <option value={l}>{l}</option>
          ))}
        </select>
      </div>
      {entries.length === 0 && <p class="muted">Nothing yet. Traffic and log entries appear here as they happen.</p>}
      <ol class="feed" aria-live="polite">
        {entries.map((x) => (
          <li key={x.key} class={`feed-${x.kind} level-${(x.level ?? 'traffic').toLowerCase()}`} data-kind={x.kind}>
            <time dateTime={x.timestamp}>{clock(x.timestamp)}</time>{' '}
            <span class="tag">{x.kind === 'log' ? x.level : x.direction === 'TO_AGENT' ? 'Butler → agent' : 'agent → Butler'}</span>{' '}
            <strong>{x.agent_name}</strong> <span class="text">{x.text}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
