/** The admins' inbox: pending requests (soonest to expire first) and the history of decided ones. */
import { AuthCard } from './auth-card';
import type { Ctx } from './shell';

export function ApprovalsScreen({ ctx }: { ctx: Ctx }) {
  const pending = ctx.state.auth.pending();
  const decided = ctx.state.auth.decided();
  return (
    <div class="approvals">
      <section aria-labelledby="pending-title">
        <h2 id="pending-title">Waiting for a decision ({pending.length})</h2>
        {pending.length === 0 && <p class="muted">Nothing to decide. New requests appear here as the Butler files them.</p>}
        {pending.map((r) => (
          <AuthCard key={r.action_id} ctx={ctx} record={r} />
        ))}
      </section>
      <section aria-labelledby="decided-title">
        <h2 id="decided-title">Decided</h2>
        {decided.length === 0 && <p class="muted">No decided requests yet.</p>}
        {decided.map((r) => (
          <AuthCard key={r.action_id} ctx={ctx} record={r} />
        ))}
      </section>
    </div>
  );
}
