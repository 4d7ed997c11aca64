import { readdirSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { Server } from 'socket.io';

/** What the parent asks a server process for: memory, CPU time, sockets and file descriptors. */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** V8 heap spaces with what they reserve and what is live in them, e.g. `old_space 120.0/80.1 MB`. */
  heapSpaces: string;
  /** CPU time of the whole process (all threads, SQLite's included), microseconds. */
  cpuMicros: number;
  /** `/agents` sockets by handshake address (to check the loopback source addresses). */
  agentsByAddress: Record<string, number>;
  sockets: number;
  openFds: number;
  fdLimit: string;
  /** What the heap compactor has done (EchoCenter in a child process only). */
  heapCompaction?: string;
}

/**
 * Collects stats in the server process; runs a full GC first when `--expose-gc` is on, so heap figures
 * settle. Opens no file: at the descriptor limit `process.memoryUsage()` itself fails with EMFILE, so
 * RSS and the descriptor count are read from /proc by the parent (`procStats`) and are -1 here.
 */
export function collectStats(io: Server, gc: boolean): ServerStats {
  if (gc && typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
  const heap = getHeapStatistics();
  const cpu = process.cpuUsage();
  const byAddress: Record<string, number> = {};
  let sockets = 0;
  for (const nsp of io._nsps.values()) {
    for (const s of nsp.sockets.values()) {
      sockets++;
      if (nsp.name === '/agents') byAddress[s.handshake.address] = (byAddress[s.handshake.address] ?? 0) + 1;
    }
  }
  return {
    rss: -1,
    heapUsed: heap.used_heap_size,
    heapTotal: heap.total_heap_size,
    heapSpaces: getHeapSpaceStatistics()
      .filter((sp) => sp.space_size > 1 << 20)
      .map((sp) => `${sp.space_name} ${(sp.space_size / 1048576).toFixed(1)}/${(sp.space_used_size / 1048576).toFixed(1)} MB`)
      .join(', '),
    cpuMicros: cpu.user + cpu.system,
    agentsByAddress: byAddress,
    sockets,
    openFds: -1,
    fdLimit: 'unknown',
  };
}

/** RSS, open descriptors and the descriptor limit of process `pid`, from /proc (Linux). */
export function procStats(pid: number): Pick<ServerStats, 'rss' | 'openFds' | 'fdLimit'> {
  try {
    const rssKb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    const limits = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return { rss: rssKb * 1024, openFds: readdirSync(`/proc/${pid}/fd`).length, fdLimit: limits ? `${limits[1]} soft / ${limits[2]} hard` : 'unknown' };
  } catch {
    return { rss: NaN, openFds: -1, fdLimit: 'unknown' };
  }
}
