/**
 * The Butler load profile published for EchoCenter's original Go implementation: 1,000 Butler requests
 * at concurrency 20 against a model that answers after 800 ms. The ceiling is 20 / 0.8 s = 25 requests/s.
 *
 *   npm run bench:butler -- [--db sqlite|postgres|both] [--requests 1000] [--concurrency 20] [--model-ms 800]
 *
 * A request counts as done when its CHAT_STREAM_END arrives; it is a failure when the send is not acked,
 * the stored final CHAT (with an id, `reply_to` = the request) is missing, or it reports an error.
 * The server runs in its own process; the fake model and the clients run here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'socket.io-client';
import { Args } from './lib/args';
import { connectSocket, inParallel, login, rest } from './lib/clients';
import { createBenchDb } from './lib/db';
import { benchEnv, startServerProcess } from './lib/server';
import { ms, table } from './lib/stats';

interface Result {
  db: string;
  seconds: number;
  done: number;
  failures: number;
  p50: number;
  p95: number;
  p99: number;
}

/** An OpenAI-compatible endpoint that streams a short answer after `delayMs`. */
function fakeModel(delayMs: number): Promise<{ server: Server; url: string; calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        const words = ['Certainly. ', 'Here is ', 'the answer ', 'you asked ', 'for.'];
        for (const [i, w] of words.entries()) {
          const chunk = { id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: w } : { content: w }, finish_reason: null }] };
          res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        }
        res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
      }, delayMs);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, calls: () => calls })),
  );
}

function percentile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN;
}

async function runOne(kind: 'sqlite' | 'postgres', requests: number, concurrency: number, modelMs: number): Promise<Result> {
  const db = await createBenchDb(kind);
  const model = await fakeModel(modelMs);
  const { env, adminPassword } = benchEnv(db.env, { BUTLER_BASE_URL: model.url, BUTLER_MODEL: 'fake', BUTLER_API_TOKEN: 'bench' });
  const server = await startServerProcess('echocenter', env);
  const sockets: Socket[] = [];
  try {
    const admin = await login(server.url, 'admin', adminPassword);
    const butler = await rest<{ id: number }>(server.url, 'GET', '/api/users/butler', undefined, admin.token);
    const members = await inParallel([...Array(concurrency).keys()], 10, async (i) => {
      await rest(server.url, 'POST', '/api/users', { username: `member${i}`, password: 'bench-password', role: 'MEMBER' }, admin.token);
      const m = await login(server.url, `member${i}`, 'bench-password');
      const socket = await connectSocket(server.url, '/chat', { token: m.token });
      sockets.push(socket);
      return socket;
    });
    let next = 0;
    let failures = 0;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      members.map(async (socket, w) => {
        while (next < requests) {
          const n = next++;
          const t0 = performance.now();
          const ok = await oneRequest(socket, butler.id, `w${w}-r${n}`);
          latencies.push(performance.now() - t0);
          if (!ok) failures++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return { db: db.label, seconds, done: latencies.length, failures, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) };
  } finally {
    for (const s of sockets) s.disconnect();
    await server.stop();
    model.server.close();
    await db.drop();
  }
}

/** Sends one request and waits for its stream to end; true when the stored final CHAT is sound. */
function oneRequest(socket: Socket, butlerId: number, localId: string): Promise<boolean> {
  return new Promise((resolve) => {
    let requestId: number | undefined;
    let final: { id?: number; payload?: unknown } | undefined;
    const early: unknown[] = [];
    const timer = setTimeout(() => finish(false), 120_000);
    const onMessage = (m: { type: string; reply_to?: number; id?: number; payload?: unknown; sender_id?: number }) => {
      if (requestId === undefined) return void early.push(m);
      if (m.reply_to !== requestId || m.sender_id !== butlerId) return;
      if (m.type === 'CHAT') final = m;
      if (m.type === 'CHAT_STREAM_END') finish(Boolean(final?.id) && !String(final?.payload).startsWith('Sorry'));
    };
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(ok);
    };
    socket.on('message', onMessage);
    socket
      .timeout(30_000)
      .emitWithAck('message', { type: 'CHAT', target_id: butlerId, payload: 'What can you tell me about the agents?', local_id: localId })
      .then(
        (ack: { ok: boolean; id?: number }) => {
          if (!ack.ok || !ack.id) return finish(false);
          requestId = ack.id;
          for (const m of early.splice(0)) onMessage(m as never);
        },
        () => finish(false),
      );
  });
}

async function main(): Promise<void> {
  const args = new Args();
  const which = args.choice('db', ['sqlite', 'postgres', 'both'], 'both');
  const requests = args.number('requests', 1000);
  const concurrency = args.number('concurrency', 20);
  const modelMs = args.number('model-ms', 800);
  const kinds: ('sqlite' | 'postgres')[] = which === 'both' ? ['sqlite', 'postgres'] : [which];
  if (which === 'both' && !process.env.DATABASE_URL) kinds.pop();
  console.log(`Butler load: ${requests} requests, concurrency ${concurrency}, model answers after ${modelMs} ms; ceiling ${(concurrency / (modelMs / 1000)).toFixed(1)} requests/s`);
  const rows: (string | number)[][] = [['database', 'requests/s', 'p50', 'p95', 'p99', 'failures', 'seconds']];
  for (const kind of kinds) {
    const r = await runOne(kind, requests, concurrency, modelMs);
    rows.push([kind, (r.done / r.seconds).toFixed(2), ms(r.p50), ms(r.p95), ms(r.p99), r.failures, r.seconds.toFixed(1)]);
    console.log(`${kind}: ${r.db}`);
  }
  if (which === 'both' && !process.env.DATABASE_URL) console.log('postgres: SKIPPED (set DATABASE_URL)');
  console.log(table(rows));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
