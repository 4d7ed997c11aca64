import type { Role, SystemLogPayload } from './protocol';

/** Who wrote a system log entry: the fields of a user the log needs. */
export interface LogAuthor {
  id: number;
  username: string;
  role: Role;
}

/**
 * What services announce to the realtime hub. Services never import socket.io; the hub implements
 * this port, and without a hub (tools, some tests) the no-op version is used.
 */
export interface HubPort {
  /** A stored system log entry to push as SYSTEM_LOG. */
  systemLogStored(entry: SystemLogPayload, sender: LogAuthor): Promise<void> | void;
  /** A user's credentials are gone (deleted user or agent, rotated token): drop their live sockets. */
  credentialsRevoked(userId: number): Promise<void> | void;
}

/** Which agents have a live socket on any replica. */
export interface PresencePort {
  onlineIds(ids: readonly number[]): Promise<Set<number>>;
}

export const noopHub: HubPort = {
  systemLogStored: () => undefined,
  credentialsRevoked: () => undefined,
};

export const nobodyOnline: PresencePort = { onlineIds: async () => new Set() };
