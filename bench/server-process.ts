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

async function start(mode: string): Promise<{ io: Server; url: string; close: () => Promise<void> }> {
  // Imported lazily, so that the relay process does not carry EchoCenter's modules in its memory figures.
  if (mode === 'relay') {
    const { startRelay } = await import('./lib/relay');
    return startRelay('127.0.0.1', 0);
  }
  if (mode === 'echocenter') {
    const { createApp } = await import('../src/app');
    const { loadConfig } = await import('../src/config/config');
    const app = await createApp(loadConfig(process.env));
    const url = await app.listen(0, '127.0.0.1');
    return { io: app.hub.io, url, close: () => app.close() };
  }
  throw new Error(`unknown mode ${mode}`);
}

function post(session: Session, method: string, params?: object): Promise<any> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
}

async function main(): Promise<void> {
  const { io, url, close } = await start(process.argv[2]);
  let session: Session | undefined;
  const reply = (id: number, result: unknown) => process.send!({ id, result });
  process.on('message', (req: ServerRequest) => {
    switch (req.cmd) {
      case 'stats':
        return reply(req.id, collectStats(io, req.gc ?? false));
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
