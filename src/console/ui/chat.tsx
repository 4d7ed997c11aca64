/**
 * Conversations: the Butler first, then agents and people, with unread counts; the open one pages
 * back through `GET /api/chat/history/:peer_id` when scrolled to the top, sends with a `local_id`,
 * shows a line as pending until its ack and the refusal in place.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { BROADCAST_PEER, type ConsoleState } from '../state/console-state';
import type { ChatItem } from '../state/conversation';
import { clock, newLocalId } from '../state/format';
import { AuthCard } from './auth-card';
import type { Ctx } from './shell';

const PAGE = 50;

export function ChatScreen({ ctx, path }: { ctx: Ctx; path: string }) {
  const { state } = ctx;
  const fromPath = /^\/chat\/(\d+)/.exec(path);
  const peerId = fromPath ? Number(fromPath[1]) : state.butler?.id;
  useEffect(() => {
    if (peerId !== undefined && state.openPeer !== peerId) state.open(peerId);
  }, [peerId]);
  useEffect(() => () => state.open(undefined), []);

  const peers = state.peers();
  return (
    <div class="chat">
      <aside class="peers" aria-label="Conversations">
        <ul>
          {peers.map((p) => {
            const unread = state.conversations.get(p.id)?.unread ?? 0;
            const agent = state.agents.get(p.id);
            return (
              <li key={p.id}>
                <a
                  href={`/chat/${p.id}`}
                  aria-current={p.id === peerId ? 'page' : undefined}
                  data-peer={p.username}
                  onClick={(e) => {
                    e.preventDefault();
                    ctx.go(`/chat/${p.id}`);
                  }}
                >
                  <span class={`dot ${p.role === 'AGENT' ? (agent?.online ? 'on' : 'off') : 'none'}`} aria-hidden="true" />
                  <span class="name">{p.username}</span>
                  {p.role === 'BUTLER' && <small class="muted"> Butler</small>}
                  {unread > 0 && (
                    <span class="badge" aria-label={`${unread} unread`}>
                      {unread}
                    </span>
                  )}
                </a>
              </li>
            );
          })}
        </ul>
      </aside>
      {peerId !== undefined ? <Thread key={peerId} ctx={ctx} peerId={peerId} /> : <p class="muted">Loading…</p>}
    </div>
  );
}

function peerName(state: ConsoleState, id: number): string {
  if (id === BROADCAST_PEER) return 'Broadcasts';
  if (state.butler?.id === id) return state.butler.username;
  return state.agents.get(id)?.username ?? state.people.get(id)?.username ?? `user ${id}`;
}

function Thread({ ctx, peerId }: { ctx: Ctx; peerId: number }) {
  const { state, api } = ctx;
  const conv = state.conversation(peerId);
  const items = conv.items();
  const list = useRef<HTMLOListElement>(null);
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<string | undefined>();
  const stick = useRef(true);
  const before = useRef<number | undefined>(undefined);

  const loadOlder = async () => {
    if (loading || !conv.hasMore || peerId === BROADCAST_PEER) return;
    setLoading(true);
    const el = list.current;
    before.current = el ? el.scrollHeight - el.scrollTop : undefined;
    try {
      state.history(peerId, await api.history(peerId, PAGE, conv.oldestId), PAGE);
      setLoadError(undefined);
    } catch (err) {
      setLoadError((err as Error).message);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    if (conv.oldestId === undefined || conv.items().length < PAGE) void loadOlder();
  }, [peerId]);

  // Keep the view at the bottom for new lines; keep the reading position when older lines arrive above.
  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    if (before.current !== undefined) {
      el.scrollTop = el.scrollHeight - before.current;
      before.current = undefined;
    } else if (stick.current) el.scrollTop = el.scrollHeight;
  });

  const onScroll = () => {
    const el = list.current!;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 30) void loadOlder();
  };

  const send = async (text: string, localId = newLocalId()) => {
    if (!conv.retrying(localId)) conv.addPending(localId, state.me, text, new Date().toISOString());
    stick.current = true;
    state.changed();
    const ack = await ctx.live.send({ type: 'CHAT', target_id: peerId, payload: text, local_id: localId });
    conv.acked(localId, ack);
    state.changed();
  };

  const name = peerName(state, peerId);
  return (
    <section class="thread" aria-label={`Conversation with ${name}`}>
      <h2>{name}</h2>
      <ol class="lines" ref={list} onScroll={onScroll} aria-live="polite">
        {loading && <li class="muted">Loading older messages…</li>}
        {!conv.hasMore && items.length > 0 && <li class="muted start">Start of the conversation</li>}
        {loadError && <li class="error">{loadError}</li>}
        {items.map((item) => (
          <Line key={item.key} ctx={ctx} item={item} onRetry={() => void send(item.text, item.local_id!)} />
        ))}
      </ol>
      {peerId !== BROADCAST_PEER && <Composer onSend={(t) => void send(t)} />}
    </section>
  );
}

function Line({ ctx, item, onRetry }: { ctx: Ctx; item: ChatItem; onRetry(): void }) {
  const mine = item.sender_id === ctx.state.me.id;
  if (item.kind === 'auth') {
    const record = ctx.state.auth.get(item.action_id!);
    return <li class="line auth">{record && <AuthCard ctx={ctx} record={record} />}</li>;
  }
  return (
    <li class={`line ${mine ? 'mine' : 'theirs'} ${item.state}`} data-id={item.id ?? ''} data-state={item.state}>
      <div class="meta">
        <strong>{item.sender_name}</strong> <time dateTime={item.timestamp}>{clock(item.timestamp)}</time>
        {item.state === 'pending' && <span class="muted"> · sending…</span>}
        {item.state === 'streaming' && <span class="muted"> · typing…</span>}
      </div>
      <div class="text">{item.text}</div>
      {item.state === 'failed' && (
        <div class="error" role="alert">
          Not sent: {item.error}{' '}
          <button type="button" class="link" onClick={onRetry}>
            Retry
          </button>
        </div>
      )}
    </li>
  );
}

function Composer({ onSend }: { onSend(text: string): void }) {
  const [text, setText] = useState('');
  const submit = () => {
    const t = text.trim();
    if (!t) return;
    onSend(t);
    setText('');
  };
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <label for="message" class="sr-only">
        Message
      </label>
      <textarea
        id="message"
        rows={1}
        placeholder="Message (Enter sends, Shift+Enter: new line)"
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      <button type="submit">Send</button>
    </form>
  );
}
