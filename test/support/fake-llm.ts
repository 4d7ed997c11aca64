/**
 * A fake OpenAI-compatible chat-completions server for the Butler's tests: `POST /v1/chat/completions`
 * answers streamed requests as SSE (`data: {chunk}\n\n` … `data: [DONE]`) and non-streamed ones (the
 * memory's summaries) as one JSON completion. Every request is recorded; replies are scripted per test.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeToolCall {
  name: 'list_agents' | 'get_agent_status' | 'request_agent_action' | string;
  args: Record<string, unknown> | string;
  id?: string;
}

/** One scripted answer to one request. */
export type FakeReply =
  /** Streamed text, one SSE chunk per element, `delayMs` before each. */
  | { kind: 'text'; chunks: string[]; delayMs?: number }
  /** Streamed tool calls: id, name and arguments arrive in separate deltas, arguments in several pieces. */
  | { kind: 'tools'; calls: FakeToolCall[]; text?: string }
  /** Some chunks, then the TCP socket is destroyed without `[DONE]`. */
  | { kind: 'fail-mid-stream'; chunks: string[] }
  /** An HTTP error status with an OpenAI-shaped error body. */
  | { kind: 'http-error'; status: number; message?: string }
  /** Some chunks (maybe none, then not even headers), then nothing, ever. */
  | { kind: 'hang'; chunks?: string[] }
  /** A non-streamed completion (what a summary request gets). */
  | { kind: 'json'; content: string };

/** What the fake received. */
export interface RecordedRequest {
  at: number;
  headers: IncomingMessage['headers'];
  /** The raw body length in bytes. */
  size: number;
  body: {
    model: string;
    stream?: boolean;
    messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[];
    tools?: { function: { name: string } }[];
  };
}

export type Responder = (req: RecordedRequest) => FakeReply;

/** The text of the last `user` message of a request. */
export function lastUserText(req: RecordedRequest): string {
  const users = req.body.messages.filter((m) => m.role === 'user');
  return users[users.length - 1]?.content ?? '';
}

/** Everything a request sent as message content, joined (for "the model saw X" assertions). */
export function allContent(req: RecordedRequest): string {
  return req.body.messages.map((m) => m.content ?? '').join('\n');
}

export class FakeLlm {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: FakeReply[] = [];
  private responder: Responder = defaultResponder;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server!: Server;
  private port = 0;

  /** `http://127.0.0.1:<port>/v1`, for BUTLER_BASE_URL. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** The app environment that points the Butler at this fake. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { BUTLER_BASE_URL: this.baseUrl, BUTLER_MODEL: 'fake', BUTLER_API_TOKEN: 'test-key', ...extra };
  }

  /** Streamed requests only, in arrival order. */
  get streamed(): RecordedRequest[] {
    return this.requests.filter((r) => r.body.stream);
  }

  /** Non-streamed requests (summaries). */
  get summaries(): RecordedRequest[] {
    return this.requests.filter((r) => !r.body.stream);
  }

  /** The next requests get these replies, in order, before the responder is asked. */
  enqueue(...replies: FakeReply[]): void {
    this.queue.push(...replies);
  }

  /** Answers every request not covered by the queue. */
  respond(responder: Responder): void {
    this.responder = responder;
  }

  /** Back to the default: echo the last user text as streamed words; summaries answer `SUMMARY`. */
  reset(): void {
    this.queue.length = 0;
    this.requests.length = 0;
    this.responder = defaultResponder;
  }

  /** Resolves when `n` requests have arrived in total. */
  async waitForRequests(n: number, timeoutMs = 5_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.requests.length < n) {
      if (Date.now() > until) throw new Error(`fake LLM got ${this.requests.length} requests, expected ${n}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => (this.timers.delete(t), resolve()), ms);
      this.timers.add(t);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw: Buffer[] = [];
    for await (const part of req) raw.push(part as Buffer);
    const text = Buffer.concat(raw).toString('utf8');
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const recorded: RecordedRequest = { at: Date.now(), headers: req.headers, size: Buffer.byteLength(text), body: JSON.parse(text) };
    this.requests.push(recorded);
    const reply = this.queue.shift() ?? this.responder(recorded);
    if (!res.socket || res.socket.destroyed) return;
    await this.reply(recorded, reply, res);
  }

  private async reply(req: RecordedRequest, reply: FakeReply, res: ServerResponse): Promise<void> {
    const id = `chatcmpl-${this.requests.length}`;
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: req.body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const openStream = () => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    switch (reply.kind) {
      case 'http-error':
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: reply.message ?? 'fake failure', type: 'server_error', code: null } }));
        return;
      case 'json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id,
            object: 'chat.completion',
            created: 1,
            model: req.body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: reply.content }, finish_reason: 'stop' }],
          }),
        );
        return;
      case 'text':
        openStream();
        res.write(chunk({ role: 'assistant', content: '' }));
        for (const c of reply.chunks) {
          if (reply.delayMs) await this.sleep(reply.delayMs);
          if (res.destroyed) return;
          res.write(chunk({ content: c }));
        }
        res.write(chunk({}, 'stop'));
        res.end('data: [DONE]\n\n');
        return;
      case 'tools': {
        openStream();
        res.write(chunk({ role: 'assistant', content: reply.text ?? null }));
        reply.calls.forEach((call, index) => {
          const args = typeof call.args === 'string' ? call.args : JSON.stringify(call.args);
          // id, then name, then the arguments in three pieces: clients must join deltas by index.
          res.write(chunk({ tool_calls: [{ index, id: call.id ?? `call_${index}_${id}`, type: 'function', function: { arguments: '' } }] }));
          res.write(chunk({ tool_calls: [{ index, function: { name: call.name } }] }));
          const third = Math.ceil(args.length / 3);
          for (let i = 0; i < args.length; i += third || 1) {
            res.write(chunk({ tool_calls: [{ index, function: { arguments: args.slice(i, i + (third || 1)) } }] }));
          }
        });
        res.write(chunk({}, 'tool_calls'));
        res.end('data: [DONE]\n\n');
        return;
      }
      case 'fail-mid-stream':
        openStream();
        res.write(chunk({ role: 'assistant', content: '' }));
        for (const c of reply.chunks) res.write(chunk({ content: c }));
        // Let the chunks leave before the connection dies.
        await this.sleep(50);
        res.socket?.destroy();
        return;
      case 'hang':
        if (reply.chunks?.length) {
          openStream();
          for (const c of reply.chunks) res.write(chunk({ content: c }));
        }
        return; // never ends; close() destroys the socket
    }
  }
}

/** Streamed requests echo the user's text word by word; summaries answer `SUMMARY`. */
export const defaultResponder: Responder = (req) =>
  req.body.stream ? { kind: 'text', chunks: words(`You said: ${lastUserText(req)}`) } : { kind: 'json', content: 'SUMMARY' };

/** Splits text into word chunks that keep their spacing, so that the chunks join back to the text. */
export function words(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}

export async function startFakeLlm(): Promise<FakeLlm> {
  return new FakeLlm().start();
}
