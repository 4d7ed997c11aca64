/**
 * One authorization request: what the Butler wants an agent to do, who asked, the countdown while
 * it waits, every status it went through, and for admins Approve / Reject (with an optional reason),
 * disabled while the decision is in flight and until the server's answer.
 */
import { useState } from 'preact/hooks';
import type { ApiError } from '../client/api';
import { isFinal, statusLabel, type AuthRecord } from '../state/authorizations';
import { clock, countdown } from '../state/format';
import { useNow } from './hooks';
import type { Ctx } from './shell';

/** A user's name from an id; members cannot list users, so an unknown decider is "an admin". */
export function userName(ctx: Ctx, id: number | null | undefined, unknown = `user ${id}`): string {
  if (id === null || id === undefined) return '—';
  if (id === ctx.state.me.id) return ctx.state.me.username;
  return ctx.state.people.get(id)?.username ?? unknown;
}

export function AuthCard({ ctx, record, actions = true }: { ctx: Ctx; record: AuthRecord; actions?: boolean }) {
  const { state } = ctx;
  const now = useNow();
  const [reason, setReason] = useState('');
  const inFlight = state.auth.deciding.has(record.action_id);
  const error = state.auth.decisionErrors.get(record.action_id);
  const canDecide = actions && state.isAdmin && record.status === 'PENDING' && !error;

  const decide = async (approved: boolean) => {
    state.auth.deciding.add(record.action_id);
    state.auth.decisionErrors.delete(record.action_id);
    state.changed();
    try {
      const res = await ctx.api.decide(record.action_id, approved, approved ? undefined : reason.trim() || undefined);
      state.auth.decisionAnswered(record.action_id, { status: res.status });
    } catch (err) {
      const e = err as ApiError;
      state.auth.decisionAnswered(record.action_id, e.status === 409 ? { conflict: true } : { error: e.message });
    }
    state.changed();
  };

  const idBase = `auth-${record.action_id}`;
  return (
    <article class={`auth-card status-${record.status.toLowerCase()}`} data-action-id={record.action_id} data-status={record.status} aria-labelledby={`${idBase}-title`}>
      <header>
        <h3 id={`${idBase}-title`}>
          {record.target_agent_name || 'agent'}: <code>{record.command || '…'}</code>
        </h3>
        <span class="status" data-testid="auth-status">
          {statusLabel(record.status)}
        </span>
      </header>
      {record.reason && <p class="reasoning">{record.reason}</p>}
      <p class="muted small">
        Requested by {userName(ctx, record.requested_by)}
        {record.status === 'PENDING' && record.expires_at && (
          <>
            {' '}
            · expires in <span class="countdown">{countdown(record.expires_at, now)}</span>
          </>
        )}
        {record.decided_by !== null && <> · decided by {userName(ctx, record.decided_by, 'an admin')}</>}
        {record.decided_at && <> at {clock(record.decided_at)}</>}
      </p>
      <ol class="timeline" aria-label="Status timeline">
        {record.timeline.map((s) => (
          <li key={`${s.status}-${s.envelope_id ?? 'rest'}`} data-status={s.status}>
            <time dateTime={s.at}>{clock(s.at)}</time> {statusLabel(s.status)}
          </li>
        ))}
      </ol>
      {record.result && isFinal(record.status) && (
        <pre class="result" aria-label="Result">
          {record.result}
        </pre>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {canDecide && (
        <div class="decide">
          <label for={`${idBase}-reason`}>Reason (optional, sent with a rejection)</label>
          <input id={`${idBase}-reason`} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} disabled={inFlight} />
          <div class="buttons">
            <button type="button" class="approve" disabled={inFlight} onClick={() => void decide(true)}>
              Approve
            </button>
            <button type="button" class="reject" disabled={inFlight} onClick={() => void decide(false)}>
              Reject
            </button>
          </div>
        </div>
      )}
    </article>
  );
}
