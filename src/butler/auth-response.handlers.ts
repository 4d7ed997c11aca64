import { forbidden } from '../shared/errors';
import type { MessageHandler } from '../shared/socket-handler';
import type { AuthorizationFlow } from './authorization.flow';

/**
 * AUTH_RESPONSE from an admin on `/chat`: decides an authorization request (PROTOCOL §6). The
 * first decision wins; an unknown action is NOT_FOUND, a decided or expired one CONFLICT. A
 * rejection may say why (`reason`).
 */
export function authResponseHandlers(deps: { flow: Pick<AuthorizationFlow, 'decide'> }): { AUTH_RESPONSE: MessageHandler } {
  return {
    async AUTH_RESPONSE({ sender, envelope }) {
      // Members may send the type (their envelope is valid), but only an admin decides.
      if (sender.role !== 'ADMIN') throw forbidden('Only an admin may decide an authorization request');
      // The payload was parsed at the edge (envelope.schema.ts): a rejection's reason is trimmed or absent.
      const { action_id, approved, reason } = envelope.payload as { action_id: string; approved: boolean; reason?: string };
      return { ok: true, ...(await deps.flow.decide(sender.id, action_id, approved, reason)) };
    },
  };
}
