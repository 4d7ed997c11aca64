/**
 * Authorization requests as the console knows them (PROTOCOL §6): built from `AUTH_REQUEST` and
 * `AUTH_STATUS_UPDATE` envelopes (live, replayed or from history) and from the REST list, in any
 * arrival order. A status never moves backwards: an older update read late (a history page, a
 * replay) adds to the timeline but cannot undo a newer status.
 */
import type { AuthRequestPayload, AuthStatusName, AuthStatusUpdatePayload, Envelope } from '../../shared/protocol';

/** The REST shape of `GET /api/chat/auth/requests`. */
export interface AuthRequestView extends AuthRequestPayload {
  id: number;
  decided_by: number | null;
  decided_at: string | null;
  created_at: string;
  result: string | null;
}

export interface TimelineStep {
  status: AuthStatusName;
  at: string;
  /** The envelope that announced it; undefined for a step known only from REST. */
  envelope_id?: number;
  decided_by?: number | null;
  result?: string | null;
}

export interface AuthRecord {
  action_id: string;
  /** False while only status updates are known (the request itself is on an older history page). */
  known: boolean;
  target_agent_id: number;
  target_agent_name: string;
  command: string;
  reason: string;
  requested_by: number;
  expires_at: string;
  created_at: string;
  status: AuthStatusName;
  decided_by: number | null;
  decided_at: string | null;
  result: string | null;
  timeline: TimelineStep[];
}

const RANK: Record<AuthStatusName, number> = { PENDING: 0, APPROVED: 1, EXECUTING: 2, COMPLETED: 3, FAILED: 3, REJECTED: 3, EXPIRED: 3 };

/** True for the statuses after which nothing changes. */
export const isFinal = (s: AuthStatusName) => RANK[s] === 3;

/** Words for a status, as the cards show it. */
export function statusLabel(s: AuthStatusName): string {
  switch (s) {
    case 'PENDING':
      return 'Waiting for an admin';
    case 'APPROVED':
      return 'Approved, waiting for the agent';
    case 'EXECUTING':
      return 'Running on the agent';
    case 'COMPLETED':
      return 'Completed';
    case 'FAILED':
      return 'Failed';
    case 'REJECTED':
      return 'Rejected';
    case 'EXPIRED':
      return 'Expired';
  }
}

export class Authorizations {
  private readonly records = new Map<string, AuthRecord>();
  /** Decisions this console has sent and not yet heard back about. */
  readonly deciding = new Set<string>();
  /** A decision's refusal, shown on its card (e.g. someone else decided first). */
  readonly decisionErrors = new Map<string, string>();

  get(actionId: string): AuthRecord | undefined {
    return this.records.get(actionId);
  }

  all(): AuthRecord[] {
    return [...this.records.values()];
  }

  /** Pending requests, the one expiring first on top. */
  pending(): AuthRecord[] {
    return this.all()
      .filter((r) => r.known && r.status === 'PENDING')
      .sort((a, b) => a.expires_at.localeCompare(b.expires_at));
  }

  /** Everything past PENDING, newest first. */
  decided(): AuthRecord[] {
    return this.all()
      .filter((r) => r.known && r.status !== 'PENDING')
      .sort((a, b) => (b.decided_at ?? b.created_at).localeCompare(a.decided_at ?? a.created_at));
  }

  private ensure(actionId: string): AuthRecord {
    let r = this.records.get(actionId);
    if (!r) {
      r = {
        action_id: actionId, known: false, target_agent_id: 0, target_agent_name: '', command: '', reason: '', requested_by: 0,
        expires_at: '', created_at: '', status: 'PENDING', decided_by: null, decided_at: null, result: null, timeline: [],
      };
      this.records.set(actionId, r);
    }
    return r;
  }

  private step(r: AuthRecord, step: TimelineStep): void {
    if (step.envelope_id === undefined) {
      // A step known from REST only fills a gap: the envelope that announced the status says more.
      if (r.timeline.some((s) => s.status === step.status)) return;
    } else {
      if (r.timeline.some((s) => s.envelope_id === step.envelope_id)) return;
      const restStep = r.timeline.findIndex((s) => s.envelope_id === undefined && s.status === step.status);
      if (restStep >= 0) r.timeline.splice(restStep, 1);
    }
    r.timeline.push(step);
    r.timeline.sort((a, b) => RANK[a.status] - RANK[b.status] || (a.envelope_id ?? 0) - (b.envelope_id ?? 0));
  }

  private advance(r: AuthRecord, status: AuthStatusName): boolean {
    if (RANK[status] < RANK[r.status] || (isFinal(r.status) && r.status !== status)) return false;
    r.status = status;
    if (status !== 'PENDING') this.deciding.delete(r.action_id);
    return true;
  }

  /** An `AUTH_REQUEST` envelope. */
  request(e: Envelope<AuthRequestPayload>): AuthRecord {
    const p = e.payload;
    const r = this.ensure(p.action_id);
    Object.assign(r, {
      known: true, target_agent_id: p.target_agent_id, target_agent_name: p.target_agent_name, command: p.command, reason: p.reason,
      requested_by: p.requested_by, expires_at: p.expires_at, created_at: r.created_at || e.timestamp,
    });
    this.advance(r, p.status);
    this.step(r, { status: 'PENDING', at: e.timestamp, envelope_id: e.id });
    return r;
  }

  /** An `AUTH_STATUS_UPDATE` envelope. */
  update(e: Envelope<AuthStatusUpdatePayload>): AuthRecord {
    const p = e.payload;
    const r = this.ensure(p.action_id);
    if (this.advance(r, p.status)) {
      r.decided_by = p.decided_by ?? r.decided_by;
      r.decided_at = p.decided_at ?? r.decided_at;
      r.result = p.result ?? r.result;
    }
    this.step(r, { status: p.status, at: e.timestamp, envelope_id: e.id, decided_by: p.decided_by, result: p.result });
    return r;
  }

  /** A row of the REST list: the current state, without the steps that led there. */
  fromRest(v: AuthRequestView): AuthRecord {
    const r = this.ensure(v.action_id);
    Object.assign(r, {
      known: true, target_agent_id: v.target_agent_id, target_agent_name: v.target_agent_name, command: v.command, reason: v.reason,
      requested_by: v.requested_by, expires_at: v.expires_at, created_at: v.created_at,
    });
    if (this.advance(r, v.status)) Object.assign(r, { decided_by: v.decided_by, decided_at: v.decided_at, result: v.result });
    this.step(r, { status: 'PENDING', at: v.created_at });
    if (v.status !== 'PENDING') this.step(r, { status: v.status, at: v.decided_at ?? v.created_at, decided_by: v.decided_by, result: v.result });
    return r;
  }

  /** The server's answer to this console's decision: accepted (status follows) or refused. */
  decisionAnswered(actionId: string, outcome: { status?: AuthStatusName; error?: string; conflict?: boolean }): void {
    this.deciding.delete(actionId);
    const r = this.records.get(actionId);
    if (outcome.conflict) this.decisionErrors.set(actionId, 'Already decided by someone else (or expired).');
    else if (outcome.error) this.decisionErrors.set(actionId, outcome.error);
    else if (r && outcome.status) this.advance(r, outcome.status);
  }
}
