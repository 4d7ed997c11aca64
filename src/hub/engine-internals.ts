import type { IncomingMessage } from 'node:http';
import type { Socket } from 'socket.io';

/**
 * The parts of engine.io's connection, its websocket transport and the `ws` socket under it that
 * EchoCenter reaches into (write-batch.ts, handshake-leftovers.ts). engine.io 6.6.13 and ws 8 come with
 * socket.io and are locked by package-lock.json; a shape that does not match only costs what those
 * modules save, and their tests fail.
 */
export interface EngineTransport {
  name: string;
  writable: boolean;
  /** The `ws` WebSocket, and under it the TCP socket. */
  socket?: { _socket?: TcpSocket };
}

export interface TcpSocket extends NodeJS.EventEmitter {
  cork?(): void;
  uncork(): void;
  destroyed: boolean;
}

export interface EngineConnection {
  /** The request that opened the connection (see handshake-leftovers.ts for what replaces it). */
  request: IncomingMessage | object;
  transport?: EngineTransport;
  flush(): void;
  once(event: 'upgrade', listener: (transport: EngineTransport) => void): void;
}

/** The engine.io connection under a Socket.IO socket. */
export function engineOf(socket: Socket): EngineConnection {
  return socket.conn as unknown as EngineConnection;
}
