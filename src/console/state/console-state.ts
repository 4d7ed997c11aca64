/**
 * Everything the console knows, fed by envelopes from `/chat` and `/monitor` (live or replayed) and
 * by REST pages, with one rule per type. No DOM and no network here: the client layer calls in, the
 * screens read out and re-render on `subscribe`. Unit tests drive it with plain envelopes.
 */
import type { AuthRequestPayload, AuthStatusUpdatePayload, ButlerAgentMessagePayload, Envelope, Role, SystemLogPayload } from '../../shared/protocol';
import { Authorizations } from './authorizations';
import { Conversation, type ChatItem } from './conversation';
import { Feed } from './feed';

/** The user object of PROTOCOL §1 (agents and the Butler add presence fields). */
export interface UserObject {
  id: number;
  username: string;
  role: Role;
  created_at: string;
  description?: string | null;
  status?: string | null;
  online?: boolean;
  last_seen_at?: string | null;
  last_report?: string | null;
  token_hint?: string | null;
  token_updated_at?: string | null;
  mode?: 'llm' | 'rules';
}

/** A conversation partner in the list. */
export interface Peer {
  id: number;
  username: string;
  role: Role | 'BROADCAST';
}

/** The pseudo-peer of broadcasts (target_id null). */
export const BROADCAST_PEER = 0;

export type Connection = 'connecting' | 'online' | 'offline';

export class ConsoleState {
  readonly conversations = new Map<number, Conversation>();
  readonly people = new Map<number, Peer>();
  readonly agents = new Map<number, UserObject>();
  readonly auth = new Authorizations();
  readonly feed = new Feed();
  butler: UserObject | undefined;
  connection: Connection = 'connecting';
  /** The conversation on screen: its incoming lines do not count as unread. */
  openPeer: number | undefined;
  /** The highest message-log id received: `auth.last_id` at the next reconnect. */
  lastId = 0;
  private readonly listeners = new Set<() => void>();
  private version = 0;

  constructor(readonly me: { id: number; username: string; role: Role }) {}

  get isAdmin(): boolean {
    return this.me.role === 'ADMIN';
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tells the screens that something changed (one render per change burst is up to them). */
  changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  get revision(): number {
    return this.version;
  }

  conversation(peerId: number): Conversation {
    let c = this.conversations.get(peerId);
    if (!c) {
      c = new Conversation(peerId);
      this.conversations.set(peerId, c);
    }
    return c;
  }

  /** Conversation partners: the Butler first, then agents and people by name. */
  peers(): Peer[] {
    const list: Peer[] = [];
    if (this.butler) list.push({ id: this.butler.id, username: this.butler.username, role: 'BUTLER' });
    const others: Peer[] = [
      ...[...this.agents.values()].filter((a) => a.role === 'AGENT').map((a) => ({ id: a.id, username: a.username, role: a.role })),
      ...[...this.people.values()].filter((p) => p.id !== this.me.id),
    ];
    others.sort((a, b) => a.username.localeCompare(b.username));
    if (this.conversations.has(BROADCAST_PEER)) others.push({ id: BROADCAST_PEER, username: 'Broadcasts', role: 'BROADCAST' });
    return [...list, ...others];
  }

  setButler(b: UserObject): void {
    this.butler = b;
    this.changed();
  }

  /** The agents list (`GET /api/users/agents`), later kept current by PRESENCE. */
  setAgents(list: UserObject[]): void {
    for (const a of list) {
      if (a.role === 'BUTLER') this.butler = { ...this.butler, ...a };
      else this.agents.set(a.id, a);
    }
    this.changed();
  }

  setPeople(list: UserObject[]): void {
    for (const u of list) if (u.role === 'ADMIN' || u.role === 'MEMBER') this.people.set(u.id, { id: u.id, username: u.username, role: u.role });
    this.changed();
  }

  open(peerId: number | undefined): void {
    this.openPeer = peerId;
    if (peerId !== undefined) this.conversation(peerId).unread = 0;
    this.changed();
  }

  setConnection(c: Connection): void {
    this.connection = c;
    this.changed();
  }

  /** Which conversation a CHAT* envelope belongs to, from this user's side. */
  peerOf(e: Envelope): number {
    if (e.target_id === null || e.target_id === 0) return BROADCAST_PEER;
    return e.sender_id === this.me.id ? e.target_id : e.sender_id;
  }

  /** Is an envelope from history or replay a line of the conversation, an authorization, or neither? */
  classify = (e: Envelope): { kind: ChatItem['kind']; actionId?: string } | null => {
    if (e.type === 'CHAT') return { kind: 'chat' };
    if (e.type === 'AUTH_REQUEST') {
      const p = e.payload as AuthRequestPayload;
      this.auth.request(e as Envelope<AuthRequestPayload>);
      return p.requested_by === this.me.id ? { kind: 'auth', actionId: p.action_id } : null;
    }
    if (e.type === 'AUTH_STATUS_UPDATE') this.auth.update(e as Envelope<AuthStatusUpdatePayload>);
    return null;
  };

  /** One envelope from a socket (`/chat` or `/monitor`). */
  receive(e: Envelope): void {
    if (e.id !== undefined && e.id > this.lastId) this.lastId = e.id;
    switch (e.type) {
      case 'CHAT': {
        const peer = this.peerOf(e);
        this.learnPeer(e);
        const added = this.conversation(peer).addStored(e);
        if (added && e.sender_id !== this.me.id && peer !== this.openPeer) this.conversation(peer).unread++;
        break;
      }
      case 'CHAT_STREAM':
        this.conversation(this.peerOf(e)).addChunk(e);
        break;
      case 'CHAT_STREAM_END':
        this.conversation(this.peerOf(e)).endStream(e);
        break;
      case 'AUTH_REQUEST': {
        const c = this.classify(e);
        if (c?.kind === 'auth') this.conversation(e.sender_id).addStored(e, 'auth', c.actionId);
        break;
      }
      case 'AUTH_STATUS_UPDATE':
        this.classify(e);
        break;
      case 'PRESENCE': {
        const a = e.payload as UserObject;
        if (a.role === 'BUTLER') this.butler = { ...this.butler, ...a };
        else this.agents.set(a.id, { ...this.agents.get(a.id), ...a });
        break;
      }
      case 'SYSTEM_LOG':
        if (this.isAdmin) this.feed.log(e.payload as SystemLogPayload);
        break;
      case 'BUTLER_AGENT_MESSAGE':
        this.feed.traffic(e as Envelope<ButlerAgentMessagePayload>, (id) => this.agents.get(id)?.username ?? `agent ${id}`);
        break;
      default:
        return;
    }
    this.changed();
  }

  /** People who write to a member appear in the list (members cannot list users). */
  private learnPeer(e: Envelope): void {
    if ((e.sender_role === 'ADMIN' || e.sender_role === 'MEMBER') && e.sender_id !== this.me.id && !this.people.has(e.sender_id)) {
      this.people.set(e.sender_id, { id: e.sender_id, username: e.sender_name, role: e.sender_role });
    }
  }

  /** A page of `GET /api/chat/history/:peer_id`. */
  history(peerId: number, page: Envelope[], limit: number): void {
    this.conversation(peerId).addHistory(page, limit, this.classify);
    this.changed();
  }
}
