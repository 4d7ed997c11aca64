/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The approval flow as the SDK suites drive it, on top of test/support: a requester and an admin on
 * `/chat`, an agent made through the API, a request filed with the rule-based Butler, decisions over
 * the admin's socket, and the statuses the requester was told.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Envelope } from '../../src/shared/protocol';
import { connectAgent, MemoryCursorStore, type AgentClient, type AgentOptions } from '../../src/sdk';
import { butlerId, connect, createAgent, createHuman, type TestApp, type TestClient, uniqueName } from '../support';

export interface Flow {
  butler: number;
  requester: TestClient;
  requesterId: number;
  admin: TestClient;
  agentId: number;
  agentName: string;
  token: string;
}

/** A requester and an admin connected to `/chat` (on `s`, or the replicas `where` names), and a new agent (not connected). */
export async function flow(s: TestApp, where: { requester?: string; admin?: string } = {}): Promise<Flow> {
  const butler = await butlerId(s);
  const person = await createHuman(s.api, s.adminToken, uniqueName('req'));
  const agentName = uniqueName('sdkbot');
  const agent = await createAgent(s.api, s.adminToken, agentName);
  const [requester, admin] = await Promise.all([connect(where.requester ?? s.url, 'chat', { token: person.token }), connect(where.admin ?? s.url, 'chat', { token: s.adminToken })]);
  return { butler, requester, requesterId: person.user.id, admin, agentId: agent.agent.id, agentName, token: agent.token };
}

export const authUpdate = (actionId: string, status?: string) => (e: Envelope) =>
  e.type === 'AUTH_STATUS_UPDATE' && (e.payload as any)?.action_id === actionId && (!status || (e.payload as any).status === status);

/** The requester asks the Butler to have the agent do `command`; resolves with the action id. */
export async function request(f: Flow, command: string, agentName = f.agentName): Promise<string> {
  const ack = await f.requester.send({ type: 'CHAT', target_id: f.butler, payload: `ask ${agentName} to ${command}` });
  if (!ack.ok) throw new Error(`CHAT refused: ${JSON.stringify(ack)}`);
  const req = await f.requester.waitFor((e) => e.type === 'AUTH_REQUEST' && (e.payload as any).command === command, 10_000);
  return (req.payload as any).action_id;
}

/** The admin approves over its socket. */
export async function approve(f: Flow, actionId: string): Promise<void> {
  const ack = await f.admin.send({ type: 'AUTH_RESPONSE', payload: { action_id: actionId, approved: true } });
  if (!ack.ok) throw new Error(`AUTH_RESPONSE refused: ${JSON.stringify(ack)}`);
}

/** The final AUTH_STATUS_UPDATE (COMPLETED or FAILED) the requester got for an action. */
export async function outcome(f: Flow, actionId: string, timeoutMs = 10_000): Promise<{ status: string; result: string | null }> {
  const e = await f.requester.waitFor((m) => authUpdate(actionId)(m) && ['COMPLETED', 'FAILED'].includes((m.payload as any).status), timeoutMs);
  return { status: (e.payload as any).status, result: (e.payload as any).result };
}

/** The statuses the requester was told for an action, in order. */
export const statusesOf = (f: Flow, actionId: string): string[] =>
  f.requester.received.filter(authUpdate(actionId)).map((e) => (e.payload as any).status);

/** SDK clients a test made; `closeAgents()` closes them all so Jest can exit. */
const clients: AgentClient[] = [];

/** An SDK client with fast reconnection and (unless given) a cursor in memory. */
export function agentFor(s: TestApp, token: AgentOptions['token'], options: Partial<AgentOptions> = {}): AgentClient {
  const client = connectAgent({ url: s.url, token, cursor: new MemoryCursorStore(), backoff: { minMs: 50, maxMs: 500 }, ...options });
  clients.push(client);
  return client;
}

export async function closeAgents(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.close({ timeoutMs: 1_000 })));
}

/** A temp directory for cursor files; `remove()` deletes it. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'echocenter-sdk-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
