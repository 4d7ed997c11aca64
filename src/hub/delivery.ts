import type { Namespace, Server } from 'socket.io';
import type { Envelope } from '../shared/protocol';
import type { SocketIdentity } from './handshake';
import type { NamespaceName, OrderedSink } from './ordered-delivery';

export const userRoom = (id: number) => `user:${id}`;
export const ADMINS_ROOM = 'admins';

/**
 * The routing rules of PROTOCOL §3.2, as rooms (`user:<id>` in the namespace where that user lives).
 *
 * A stored message (it has an id) goes to the ordered sink, which brings the message log to every
 * socket in id order, on every replica (ordered-delivery.ts). Everything else (stream chunks,
 * PRESENCE, SYSTEM_LOG, the monitor's mirror) is a plain room broadcast through the adapter, which
 * carries it to the other replicas.
 */
export class Delivery {
  readonly chat: Namespace;
  readonly agents: Namespace;
  readonly monitor: Namespace;

  constructor(
    io: Server,
    private readonly ordered: OrderedSink,
  ) {
    this.chat = io.of('/chat');
    this.agents = io.of('/agents');
    this.monitor = io.of('/monitor');
  }

  /**
   * A CHAT or CHAT_STREAM* envelope: to the target's sockets, and to the sender's *other* sockets
   * when the sender is human. Agents and the Butler never get their own messages back. A `null`
   * target is an admin's broadcast to every human and agent.
   */
  conversation(envelope: Envelope, sender: SocketIdentity, target: SocketIdentity | null, fromSocketId?: string): void {
    const except = fromSocketId ? [fromSocketId] : [];
    if (!target) {
      this.send('/chat', [], except, envelope);
      this.send('/agents', [], [], envelope);
      return;
    }
    const human = sender.role === 'ADMIN' || sender.role === 'MEMBER';
    const chatRooms: string[] = [];
    if (human) chatRooms.push(userRoom(sender.id));
    if (target.id !== sender.id || human) {
      if (target.role === 'ADMIN' || target.role === 'MEMBER') chatRooms.push(userRoom(target.id));
      else if (target.role === 'AGENT' && target.id !== sender.id) this.send('/agents', [userRoom(target.id)], [], envelope);
    }
    if (chatRooms.length) this.send('/chat', chatRooms, except, envelope);
  }

  /** SYSTEM_LOG and PRESENCE: every `/chat` socket and `/monitor`, never agents. */
  toHumansAndMonitors(envelope: Envelope): void {
    this.send('/chat', [], [], envelope);
    this.send('/monitor', [], [], envelope);
  }

  /** The Butler's authorization traffic: the requester, every admin on `/chat`, and `/monitor`. */
  toRequesterAndAdmins(envelope: Envelope, requesterId: number): void {
    this.send('/chat', [userRoom(requesterId), ADMINS_ROOM], [], envelope);
    this.send('/monitor', [], [], envelope);
  }

  /** `/monitor` only. */
  toMonitors(envelope: Envelope): void {
    this.send('/monitor', [], [], envelope);
  }

  /** Drops a user's live sockets in every namespace, on every replica. */
  disconnectUser(id: number): void {
    for (const nsp of [this.chat, this.agents, this.monitor]) nsp.in(userRoom(id)).disconnectSockets(true);
  }

  private send(nsp: NamespaceName, rooms: string[], except: string[], envelope: Envelope): void {
    if (typeof envelope.id === 'number') return this.ordered.push({ nsp, rooms, except, envelope: envelope as OrderedEnvelope });
    const to = this.namespace(nsp).to(rooms);
    (except.length ? to.except(except) : to).emit('message', envelope);
  }

  private namespace(name: NamespaceName): Namespace {
    return name === '/chat' ? this.chat : name === '/agents' ? this.agents : this.monitor;
  }
}

type OrderedEnvelope = Envelope & { id: number };
