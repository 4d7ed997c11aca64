import Router from '@koa/router';
import { principal, type AppState, type Guards } from '../http/context';
import { notFound } from '../shared/errors';
import { parseId, parseOrThrow, parseQuery } from '../shared/paging';
import type { UsersService } from '../users/users.service';
import { conversationQuerySchema, type ChatHistoryService } from './chat-history.service';
import { systemLogInputSchema, systemLogQuerySchema, type SystemLogService } from './system-log.service';

/** `/api/messages` (the system log) and `/api/chat/...` (stored conversations). */
export function messagesRoutes(
  deps: { systemLog: SystemLogService; history: ChatHistoryService; users: UsersService; maxPayloadBytes: number },
  guards: Guards,
): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api' });
  const inputSchema = systemLogInputSchema(deps.maxPayloadBytes);

  router.get('/messages', guards.human, async (ctx) => {
    ctx.body = await deps.systemLog.list(parseQuery(systemLogQuerySchema, ctx.query));
  });

  router.post('/messages', guards.adminOrAgent, async (ctx) => {
    const input = parseOrThrow(inputSchema, ctx.request.body);
    ctx.status = 201;
    ctx.body = await deps.systemLog.post(principal(ctx), input);
  });

  router.get('/chat/history/:peer_id', guards.human, async (ctx) => {
    const query = parseQuery(conversationQuerySchema, ctx.query);
    const peerId = parseId(ctx.params.peer_id);
    const peer = peerId ? await deps.users.findById(peerId) : null;
    if (!peer) throw notFound('No such user');
    ctx.body = await deps.history.conversation(principal(ctx).id, peer.id, query);
  });

  router.get('/chat/butler-agent/:agent_id', guards.admin, async (ctx) => {
    const query = parseQuery(conversationQuerySchema, ctx.query);
    const agentId = parseId(ctx.params.agent_id);
    const agent = agentId ? await deps.users.findById(agentId) : null;
    if (!agent || agent.role !== 'AGENT') throw notFound('No such agent');
    const butler = await deps.users.getButler();
    ctx.body = await deps.history.conversation(butler.id, agent.id, query);
  });

  return router;
}
