import type { Namespace, Server } from 'socket.io';
import type { Envelope } from '../shared/protocol';
import type { SocketIdentity } from './handshake';

export const userRoom = (id: number) => `user:${id}`;
export const ADMINS_ROOM = 'admins';

/**
 * The routing rules of PROTOCOL §3.2, all through rooms (`user:<id>` in the namespace where that user
 * lives), so that the Redis adapter carries them across replicas unchanged.
 */
export class Delivery {
  readonly chat: Namespace;
  readonly agents: Namespace;
  readonly monitor: Namespace;

  constructor(io: Server) {
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
    const human = sender.role === 'ADMIN' || sender.role === 'MEMBER';
    if (!target) {
      (fromSocketId ? this.chat.except(fromSocketId) : this.chat).emit('message', envelope);
      this.agents.emit('message', envelope);
      return;
    }
    const chatRooms: string[] = [];
    if (human) chatRooms.push(userRoom(sender.id));
    if (target.id !== sender.id || human) {
      if (target.role === 'ADMIN' || target.role === 'MEMBER') chatRooms.push(userRoom(target.id));
      else if (target.role === 'AGENT' && target.id !== sender.id) this.agents.to(userRoom(target.id)).emit('message', envelope);
    }
    if (chatRooms.length) {
      const to = this.chat.to(chatRooms);
      (fromSocketId ? to.except(fromSocketId) : to).emit('message', envelope);
    }
  }

  /** SYSTEM_LOG and PRESENCE: every `/chat` socket and `/monitor`, never agents. */
  toHumansAndMonitors(envelope: Envelope): void {
    this.chat.emit('message', envelope);
    this.monitor.emit('message', envelope);
  }

  /** The Butler's authorization traffic: the requester, every admin on `/chat`, and `/monitor`. */
  toRequesterAndAdmins(envelope: Envelope, requesterId: number): void {
    this.chat.to([userRoom(requesterId), ADMINS_ROOM]).emit('message', envelope);
    this.monitor.emit('message', envelope);
  }

  /** `/monitor` only. */
  toMonitors(envelope: Envelope): void {
    this.monitor.emit('message', envelope);
  }

  /** Drops a user's live sockets in every namespace, on every replica. */
  disconnectUser(id: number): void {
    for (const nsp of [this.chat, this.agents, this.monitor]) nsp.in(userRoom(id)).disconnectSockets(true);
  }
}
