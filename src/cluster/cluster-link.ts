import type { EventEmitter } from 'node:events';
import type { Adapter } from 'socket.io-adapter';
import type { OrderedPacket, OrderedSink } from '../hub/ordered-delivery';
import type { PresenceTracker } from '../hub/presence';
import type { GroupPublisher } from '../messages/log/message-log.service';

/** What a replica's link to the others tells the app (Redis' connection health; never for one process). */
export interface ClusterEvents {
  /** The link was down and is back: `floor` is the highest stored id this replica received in order. */
  recovered: [floor: number];
  down: [];
  /** The link can publish again: messages stored meanwhile and never published can go out. */
  writable: [];
}

/**
 * How several replicas behave as one (PROTOCOL §4-§5 across replicas): Redis in production
 * (redis-cluster.ts), or an in-process bus for tests (memory-cluster.ts).
 *
 * Stored messages travel on one ordered stream (`push`, and `groupPublisher` for message-log groups)
 * that every replica, the sender included, reads back and delivers through `onOrdered`; the
 * Socket.IO adapter carries the rest (stream chunks, PRESENCE, SYSTEM_LOG, disconnects,
 * server-side events).
 */
export interface ClusterLink extends OrderedSink, Pick<EventEmitter<ClusterEvents>, 'on'> {
  /** Connects; `lastStoredId` is where the ordered stream starts for this replica. */
  connect(lastStoredId: number): Promise<void>;
  /** The Socket.IO adapter factory, for what has no id. */
  adapter(): (nsp: unknown) => Adapter;
  /** Where the ordered stream's messages are delivered on this replica. */
  onOrdered(receiver: (packet: OrderedPacket) => void): void;
  /**
   * The message log's side of the stream: each group published as one unit with the mark of how far
   * the log has been published. `recoverThroughMark`: the replicas share the log (PostgreSQL) and the
   * mark also finds what a replica committed and did not live to publish.
   */
  groupPublisher(opts: { recoverThroughMark: boolean }): GroupPublisher;
  /** Resolves once every publish so far was answered: the next group may commit (the message log's barrier). */
  published(): Promise<void>;
  /** Resolves once this replica's own sockets have the stored messages up to `id` (read back from the stream). */
  readBack(id: number): Promise<void>;
  /** Agent presence shared by the replicas; `gone` is told of agents whose last socket died with its replica. */
  presence(gone: (agentId: number) => Promise<void>): PresenceTracker;
  /** Throws when the link cannot carry traffic now (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
