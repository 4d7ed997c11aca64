/**
 * Child-process entry of the bench scripts: runs one server, EchoCenter (`echocenter`, configured from
 * the environment the parent passes, exactly as `npm start` would be) or the bare relay (`relay`),
 * on 127.0.0.1 and a free port, and answers the parent over IPC: `stats`, `profile` (start/stop a V8
 * CPU profile) and `stop`. Not meant to be started by hand.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { Server } from 'socket.io';
import { collectStats } from './lib/server-stats';

export type ServerRequest =
  | { id: number; cmd: 'stats'; gc?: boolean }
  | { id: number; cmd: 'profile'; action: 'start' }
  | { id: number; cmd: 'profile'; action: 'stop'; path: string }
  | { id: number; cmd: 'stop' };

interface Started {
  io: Server;
  url: string;
  close: () => Promise<void>;
  /** What the heap compactor (src/shared/heap-compactor.ts) has done, for the stats. */
  heapCompaction?: () => string;
}

async function start(mode: string): Promise<Started> {
  // Imported lazily, so that the relay process does not carry EchoCenter's modules in its memory figures.
  if (mode === 'relay') {
    const { startRelay } = await import('./lib/relay');
    return startRelay('127.0.0.1', 0);
  }
  if (mode === 'echocenter') {
    const { createApp } = await import('../src/app');
    const { loadConfig } = await import('../src/config/config');
    const { startHeapCompaction } = await import('../src/shared/heap-compactor');
    const config = loadConfig(process.env);
    const app = await createApp(config);
    const url = await app.listen(0, '127.0.0.1');
    // What src/main.ts starts next to the app, so that the figures are those of `npm start`.
    const compactor = startHeapCompaction(config, app.logger, () => !app.services.messageLog.busy);
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    return {
      io: app.hub.io,
      url,
      close: () => {
        compactor?.stop();
        return app.close();
      },
      heapCompaction: () => {
        if (!compactor) return 'off (the default; HEAP_COMPACTION=idle turns it on)';
        const last = compactor.last;
        if (!last) return 'on, has not run';
        return `ran ${compactor.count}x; the last paused the process ${last.pauseMs} ms, old space ${mb(last.before.reserved)} -> ${mb(last.after.reserved)} reserved (${mb(last.after.used)} used)`;
      },
    };
  }
  throw new Error(`unknown mode ${mode}`);
}

function post(session: Session, method: string, params?: object): Promise<any> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
}

async function main(): Promise<void> {
  const { io, url, close, heapCompaction } = await start(process.argv[2]);
  let session: Session | undefined;
  const reply = (id: number, result: unknown) => process.send!({ id, result });
  process.on('message', (req: ServerRequest) => {
    switch (req.cmd) {
      case 'stats':
        return reply(req.id, { ...collectStats(io, req.gc ?? false), heapCompaction: heapCompaction?.() });
      case 'profile':
        if (req.action === 'start') {
          session = new Session();
          session.connect();
          void post(session, 'Profiler.enable')
            .then(() => post(session!, 'Profiler.setSamplingInterval', { interval: 200 }))
            .then(() => post(session!, 'Profiler.start'))
            .then(() => reply(req.id, true));
        } else if (session) {
          const s = session;
          session = undefined;
          void post(s, 'Profiler.stop').then(({ profile }) => {
            writeFileSync(req.path, JSON.stringify(profile));
            s.disconnect();
            reply(req.id, req.path);
          });
        }
        return;
      case 'stop':
        setTimeout(() => process.exit(0), 15_000).unref();
        void close().finally(() => process.send!({ id: req.id, result: null }, () => process.exit(0)));
        return;
    }
  });
  // The bench parent died: do not linger.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true, url });
}

main().catch((err) => {
  process.stderr.write(`server process failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
