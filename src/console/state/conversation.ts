/**
 * One conversation as the console shows it: stored messages ordered and deduplicated by id, the
 * user's own messages pending until acked (or failed in place), and a streamed Butler reply
 * assembled from `CHAT_STREAM` chunks until the stored `CHAT` with the same `stream_id` replaces it.
 * Plain TypeScript, no DOM: the unit tests drive it directly.
 */
import type { Ack, Envelope } from '../../shared/protocol';

export type ItemState = 'sent' | 'pending' | 'failed' | 'streaming';

/** A line in a conversation. `kind: 'auth'` marks where an authorization request was filed. */
export interface ChatItem {
  /** Stable key for rendering: `id:<id>`, `local:<local_id>` or `stream:<stream_id>`. */
  key: string;
  kind: 'chat' | 'auth';
  id?: number;
  local_id?: string | null;
  stream_id?: string | null;
  reply_to?: number | null;
  sender_id: number;
  sender_name: string;
  text: string;
  timestamp: string;
  state: ItemState;
  /** The refusal of a failed send, shown in place. */
  error?: string;
  /** For `kind: 'auth'`: the action it names. */
  action_id?: string;
}

const text = (payload: unknown) => (typeof payload === 'string' ? payload : JSON.stringify(payload));

/** The ordered, deduplicated lines of one conversation. */
export class Conversation {
  /** Stored lines by id. */
  private readonly stored = new Map<number, ChatItem>();
  /** Own lines not yet stored, by local_id, in send order. */
  private readonly pending = new Map<string, ChatItem>();
  /** Streams in progress, by stream_id. */
  private readonly streams = new Map<string, ChatItem>();
  /** Stream ids whose stored CHAT already arrived: late chunks must not reopen them. */
  private readonly closedStreams = new Set<string>();
  /** Lowest stored id loaded (for paging back); undefined before anything is loaded. */
  oldestId: number | undefined;
  /** False once a history page came back short: nothing older exists. */
  hasMore = true;
  unread = 0;

  constructor(readonly peerId: number) {}

  /** Lines in display order: stored by id, then streams in progress, then own pending sends. */
  items(): ChatItem[] {
    const stored = [...this.stored.values()].sort((a, b) => a.id! - b.id!);
    return [...stored, ...this.streams.values(), ...this.pending.values()];
  }

  /** The newest stored id, or 0. */
  newestId(): number {
    let max = 0;
    for (const id of this.stored.keys()) max = Math.max(max, id);
    return max;
  }

  /**
   * Takes a stored envelope (live, replayed or from history). Returns false when it was already
   * there, so that callers count unread lines once.
   */
  addStored(e: Envelope, kind: ChatItem['kind'] = 'chat', actionId?: string): boolean {
    if (e.id === undefined) return false;
    if (this.stored.has(e.id)) return false;
    if (e.local_id && this.pending.has(e.local_id)) this.pending.delete(e.local_id);
    if (e.stream_id) {
      this.streams.delete(e.stream_id);
      this.closedStreams.add(e.stream_id);
    }
    this.stored.set(e.id, {
      key: `id:${e.id}`,
      kind,
      id: e.id,
      local_id: e.local_id ?? null,
      stream_id: e.stream_id ?? null,
      reply_to: e.reply_to ?? null,
      sender_id: e.sender_id,
      sender_name: e.sender_name,
      text: kind === 'auth' ? '' : text(e.payload),
      timestamp: e.timestamp,
      state: 'sent',
      action_id: actionId,
    });
    this.oldestId = this.oldestId === undefined ? e.id : Math.min(this.oldestId, e.id);
    return true;
  }

  /** A page of history (ascending, as the REST route returns it); `limit` tells whether more exist. */
  addHistory(page: Envelope[], limit: number, classify: (e: Envelope) => { kind: ChatItem['kind']; actionId?: string } | null): void {
    for (const e of page) {
      const c = classify(e);
      if (c) this.addStored(e, c.kind, c.actionId);
    }
    if (page.length < limit) this.hasMore = false;
    if (page.length && (this.oldestId === undefined || page[0].id! < this.oldestId)) this.oldestId = page[0].id;
  }

  /** An own message on its way: shown at once, pending until the ack. */
  addPending(localId: string, me: { id: number; username: string }, body: string, now: string): void {
    this.pending.set(localId, { key: `local:${localId}`, kind: 'chat', local_id: localId, sender_id: me.id, sender_name: me.username, text: body, timestamp: now, state: 'pending' });
  }

  /** The ack of an own send: stored (becomes an ordinary line) or refused (kept, with the error). */
  acked(localId: string, ack: Ack): void {
    const item = this.pending.get(localId);
    if (!item) return; // the stored copy came first (replay after a reconnect)
    if (!ack.ok) {
      item.state = 'failed';
      item.error = ack.error;
      return;
    }
    if (ack.id !== undefined && this.stored.has(ack.id)) {
      this.pending.delete(localId);
      return;
    }
    this.pending.delete(localId);
    if (ack.id === undefined) return;
    this.addStored({ id: ack.id, local_id: localId, type: 'CHAT', sender_id: item.sender_id, sender_name: item.sender_name, sender_role: 'MEMBER', target_id: this.peerId, payload: item.text, timestamp: ack.timestamp ?? item.timestamp });
  }

  /** A send whose ack never came (timeout, disconnect): failed in place, can be retried. */
  failed(localId: string, error: string): void {
    const item = this.pending.get(localId);
    if (item && item.state === 'pending') {
      item.state = 'failed';
      item.error = error;
    }
  }

  /** A failed line going out again with the same local_id (the server dedupes it). */
  retrying(localId: string): ChatItem | undefined {
    const item = this.pending.get(localId);
    if (item) {
      item.state = 'pending';
      delete item.error;
    }
    return item;
  }

  /** A chunk of a streamed reply; ignored once the stream's stored CHAT is there. */
  addChunk(e: Envelope): void {
    const sid = e.stream_id;
    if (!sid || this.closedStreams.has(sid)) return;
    const current = this.streams.get(sid);
    if (current) current.text += text(e.payload);
    else
      this.streams.set(sid, {
        key: `stream:${sid}`,
        kind: 'chat',
        stream_id: sid,
        reply_to: e.reply_to ?? null,
        sender_id: e.sender_id,
        sender_name: e.sender_name,
        text: text(e.payload),
        timestamp: e.timestamp,
        state: 'streaming',
      });
  }

  /** The end of a stream. Normally the stored CHAT came first; if not, the assembled text stays, marked done. */
  endStream(e: Envelope): void {
    const sid = e.stream_id;
    if (!sid) return;
    const current = this.streams.get(sid);
    if (current) current.state = 'sent';
  }
}
