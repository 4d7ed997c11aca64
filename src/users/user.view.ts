import type { User } from './user.entity';

export interface HumanView {
  id: number;
  username: string;
  role: User['role'];
  created_at: string;
}

export interface AgentView extends HumanView {
  description: string | null;
  status: string | null;
  online: boolean;
  last_seen_at: string | null;
  last_report: string | null;
  token_hint: string | null;
  token_updated_at: string | null;
  mode?: 'llm' | 'rules';
}

export type UserView = HumanView | AgentView;

export interface ViewExtras {
  online?: boolean;
  tokenHint?: string | null;
  tokenUpdatedAt?: Date | null;
  butlerMode?: 'llm' | 'rules';
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * The user object of PROTOCOL §1. Agents and the Butler carry presence and the token hint; nothing
 * here can ever hold a hash or a token, because the view is built from the user row alone plus the
 * hint the caller passes in.
 */
export function userView(user: User, extras: ViewExtras = {}): UserView {
  const base: HumanView = {
    id: user.id,
    username: user.username,
    role: user.role,
    created_at: user.createdAt.toISOString(),
  };
  if (user.role !== 'AGENT' && user.role !== 'BUTLER') return base;
  const view: AgentView = {
    ...base,
    description: user.description ?? null,
    status: user.status ?? null,
    online: extras.online === true,
    last_seen_at: iso(user.lastSeenAt),
    last_report: user.lastReport ?? null,
    token_hint: extras.tokenHint ?? null,
    token_updated_at: iso(extras.tokenUpdatedAt),
  };
  if (user.role === 'BUTLER') view.mode = extras.butlerMode ?? 'rules';
  return view;
}
