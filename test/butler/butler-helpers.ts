/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Helpers shared by the Butler suites (on top of test/support): one turn seen from the user's socket,
 * a cross-socket timeline for ordering assertions, and short waits on authorization traffic.
 */
import type { Envelope } from '../../src/shared/protocol';
import { butlerId, connect, createAgent, createHuman, type TestApp, type TestClient, uniqueName } from '../support';

/** A turn as the user's socket saw it. */
export interface SeenTurn {
  /** The ack of the user's CHAT (its `id` is the turn's `reply_to`). */
  id: number;
  chunks: Envelope[];
  final: Envelope;
  end: Envelope;
  /** Indexes in `client.received`, for ordering assertions. */
  firstChunkAt: number;
  endAt: number;
}

/** Sends a CHAT to the Butler and resolves with the ack id (the turn runs in the background). */
export async function say(client: TestClient, butler: number, text: string): Promise<number> {
  const ack = await client.send({ type: 'CHAT', target_id: butler, payload: text });
  if (!ack.ok) throw new Error(`CHAT refused: ${JSON.stringify(ack)}`);
  return ack.id!;
}

/** Waits for the whole turn that answers message `id` and returns what the socket received for it. */
export async function seenTurn(client: TestClient, id: number, timeoutMs = 10_000): Promise<SeenTurn> {
  const end = await client.waitFor((e) => e.type === 'CHAT_STREAM_END' && e.reply_to === id, timeoutMs);
  const final = await client.waitFor((e) => e.type === 'CHAT' && e.reply_to === id && e.sender_role === 'BUTLER', 2_000);
  const chunks = client.received.filter((e) => e.type === 'CHAT_STREAM' && e.reply_to === id);
  const firstChunk = chunks[0];
  return {
    id,
    chunks,
    final,
    end,
    firstChunkAt: firstChunk ? client.received.indexOf(firstChunk) : -1,
    endAt: client.received.indexOf(end),
  };
}

/** Sends a CHAT to the Butler and waits for its whole answer. */
export async function turn(client: TestClient, butler: number, text: string, timeoutMs?: number): Promise<SeenTurn> {
  return seenTurn(client, await say(client, butler, text), timeoutMs);
}

/** The text the chunks of a turn add up to. */
export const joined = (t: SeenTurn): string => t.chunks.map((c) => c.payload as string).join('');

/** Events from several sockets in the one order this process received them. */
export interface Timeline {
  events: { who: string; e: Envelope }[];
  index(who: string, match: (e: Envelope) => boolean): number;
}

export function timeline(clients: Record<string, TestClient>): Timeline {
  const events: Timeline['events'] = [];
  for (const [who, c] of Object.entries(clients)) c.socket.on('message', (e: Envelope) => events.push({ who, e }));
  return { events, index: (who, match) => events.findIndex((x) => x.who === who && match(x.e)) };
}

export const isAuth = (type: 'AUTH_REQUEST' | 'AUTH_STATUS_UPDATE', actionId?: string, status?: string) => (e: Envelope) =>
  e.type === type && (!actionId || (e.payload as any)?.action_id === actionId) && (!status || (e.payload as any)?.status === status);

/** The AUTH_STATUS_UPDATE statuses a socket received for one action, in order. */
export function statuses(client: TestClient, actionId: string): string[] {
  return client.received.filter(isAuth('AUTH_STATUS_UPDATE', actionId)).map((e) => (e.payload as any).status);
}

/** Everyone an authorization concerns, each on their own socket (and replica, when `where` says so). */
export interface Cast {
  butler: number;
  requester: { user: any; token: string };
  other: { user: any; token: string };
  agent: { agent: any; token: string };
  agentName: string;
  /** The requester, a member who has nothing to do with it, an admin on /chat, /monitor, the agent. */
  req: TestClient;
  oth: TestClient;
  adm: TestClient;
  mon: TestClient;
  ag: TestClient | null;
}

export type Party = 'req' | 'oth' | 'adm' | 'mon' | 'ag';

/** Creates the users through `s` and connects each party to `where[party]` (default: `s.url`). */
export async function cast(s: TestApp, where: Partial<Record<Party, string>> = {}, opts: { agentOnline?: boolean } = {}): Promise<Cast> {
  const url = (p: Party) => where[p] ?? s.url;
  const butler = await butlerId(s);
  const requester = await createHuman(s.api, s.adminToken, uniqueName('req'));
  const other = await createHuman(s.api, s.adminToken, uniqueName('oth'));
  const agentName = uniqueName('bot');
  const agent = await createAgent(s.api, s.adminToken, agentName);
  const [req, oth, adm, mon] = await Promise.all([
    connect(url('req'), 'chat', { token: requester.token }),
    connect(url('oth'), 'chat', { token: other.token }),
    connect(url('adm'), 'chat', { token: s.adminToken }),
    connect(url('mon'), 'monitor', { token: s.adminToken }),
  ]);
  let ag: TestClient | null = null;
  if (opts.agentOnline ?? true) {
    ag = await connect(url('ag'), 'agents', { token: agent.token });
    // Presence is counted after the handshake: wait until the monitor has seen the agent come online.
    await mon.waitFor((e) => e.type === 'PRESENCE' && (e.payload as any).id === agent.agent.id && (e.payload as any).online === true);
  }
  return { butler, requester, other, agent, agentName, req, oth, adm, mon, ag };
}

/** The requester asks the (rule-based) Butler for an action; resolves with the AUTH_REQUEST it got. */
export async function fileRequest(c: Cast, command: string): Promise<Envelope<any>> {
  const t = await turn(c.req, c.butler, `ask ${c.agentName} to ${command}`);
  const match = (e: Envelope) => isAuth('AUTH_REQUEST')(e) && (e.payload as any).command === command && (e.payload as any).target_agent_id === c.agent.agent.id;
  const got = await c.req.waitFor(match);
  if (!(t.final.payload as string).includes((got.payload as any).action_id)) throw new Error(`unexpected answer: ${t.final.payload}`);
  return got;
}

/** An admin's decision over the socket. */
export function decide(admin: TestClient, actionId: string, approved: boolean) {
  return admin.send({ type: 'AUTH_RESPONSE', payload: { action_id: actionId, approved } });
}
