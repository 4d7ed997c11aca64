import { EventEmitter } from 'node:events';
import { ClusterAdapterWithHeartbeat, type ClusterMessage, type ClusterResponse } from 'socket.io-adapter';
import type { Adapter } from 'socket.io-adapter';
import type { OrderedPacket } from '../hub/ordered-delivery';
import { MemoryPresence, type PresenceTracker } from '../hub/presence';
import type { GroupPublisher } from '../messages/log/message-log.service';
import type { ClusterEvents, ClusterLink } from './cluster-link';
import { GroupCollector } from './group-collector';

/**
 * Several replicas in one process, as one (tests): the same contract as RedisCluster without Redis.
 * The ordered stream is a synchronous fan-out to every replica in publish order, the mark a number,
 * presence one shared tracker, and the Socket.IO adapter a cluster adapter over the same bus.
 * Messages cross the bus as copies (`structuredClone`), as they would cross Redis.
 */
export class MemoryCluster {
  private readonly links = new Set<MemoryClusterLink>();
  private readonly adapters = new Set<BusAdapter>();
  /** How far the message log has been published (the cluster's mark). */
  mark = 0;
  readonly sharedPresence = new MemoryPresence();

  /** A new replica's link. */
  link(): MemoryClusterLink {
    const link = new MemoryClusterLink(this);
    this.links.add(link);
    return link;
  }

  /** @internal */
  leave(link: MemoryClusterLink): void {
    this.links.delete(link);
  }

  /** @internal Delivers stored messages to every replica, in order. */
  publish(packets: OrderedPacket[]): void {
    for (const packet of packets) for (const link of this.links) link.receive(structuredClone(packet));
  }

  /** @internal */
  join(adapter: BusAdapter): void {
    this.adapters.add(adapter);
  }

  /** @internal */
  part(adapter: BusAdapter): void {
    this.adapters.delete(adapter);
  }

  /** @internal Adapter traffic goes out on the next turn, in order, as over a network. */
  send(from: BusAdapter, message: ClusterMessage): void {
    const copy = structuredClone(message);
    for (const adapter of this.adapters) if (adapter !== from && adapter.nsp.name === message.nsp) setImmediate(() => adapter.receive(copy));
  }

  /** @internal */
  respond(to: string, response: ClusterResponse): void {
    const copy = structuredClone(response);
    for (const adapter of this.adapters) if (adapter.serverId === to && adapter.nsp.name === response.nsp) setImmediate(() => adapter.receiveResponse(copy));
  }
}

/** One replica's side of a MemoryCluster. */
export class MemoryClusterLink extends EventEmitter<ClusterEvents> implements ClusterLink {
  private receiver: (packet: OrderedPacket) => void = () => undefined;
  private readonly group = new GroupCollector<OrderedPacket>();

  constructor(private readonly bus: MemoryCluster) {
    super();
  }

  async connect(): Promise<void> {}

  async ping(): Promise<void> {}

  adapter(): (nsp: unknown) => Adapter {
    const bus = this.bus;
    // Socket.IO calls it with `new`: a plain function that returns the adapter.
    return function createBusAdapter(nsp: unknown) {
      return new BusAdapter(nsp, bus);
    };
  }

  onOrdered(receiver: (packet: OrderedPacket) => void): void {
    this.receiver = receiver;
  }

  /** @internal */
  receive(packet: OrderedPacket): void {
    this.receiver(packet);
  }

  push(packet: OrderedPacket): void {
    if (!this.group.offer(packet)) this.bus.publish([packet]);
  }

  groupPublisher(): GroupPublisher {
    return {
      readMark: async () => this.bus.mark,
      publishGroup: async (deliver, lastId) => {
        const packets = this.group.collect(deliver);
        if (lastId === null) return;
        this.bus.publish(packets);
        this.bus.mark = Math.max(this.bus.mark, lastId);
      },
    };
  }

  async published(): Promise<void> {}

  /** Delivery is synchronous: what was published has been read back already. */
  async readBack(): Promise<void> {}

  presence(): PresenceTracker {
    // Shared by every replica: closing one replica must not forget the others' sockets.
    const shared = this.bus.sharedPresence;
    return { add: (a, s) => shared.add(a, s), remove: (a, s) => shared.remove(a, s), onlineIds: (ids) => shared.onlineIds(ids), close: async () => undefined };
  }

  async close(): Promise<void> {
    this.bus.leave(this);
    this.removeAllListeners();
  }
}

/** The Socket.IO cluster adapter (socket.io-adapter's documented base class) over a MemoryCluster. */
class BusAdapter extends ClusterAdapterWithHeartbeat {
  constructor(nsp: unknown, private readonly bus: MemoryCluster) {
    super(nsp, {});
    bus.join(this);
  }

  get serverId(): string {
    return this.uid;
  }

  receive(message: ClusterMessage): void {
    this.onMessage(message);
  }

  receiveResponse(response: ClusterResponse): void {
    this.onResponse(response);
  }

  protected override async doPublish(message: ClusterMessage): Promise<string> {
    this.bus.send(this, message);
    return '';
  }

  protected override async doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void> {
    this.bus.respond(requesterUid, response);
  }

  override close(): void {
    this.bus.part(this);
    super.close();
  }
}
