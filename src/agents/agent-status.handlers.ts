import type { MessageHandler } from '../shared/socket-handler';
import type { AgentsService } from './agents.service';

/**
 * AGENT_STATUS from an agent's socket: the status and report are stored on the agent, then its
 * PRESENCE (the user object with them) goes to `/chat` and `/monitor`. Runs in the unit of work the
 * socket lane opened for the event.
 */
export function agentStatusHandlers(deps: {
  agents: Pick<AgentsService, 'reportStatus'>;
  /** Sends the agent's current user object as PRESENCE (the hub). */
  announcePresence: (agentId: number) => Promise<void>;
}): { AGENT_STATUS: MessageHandler } {
  return {
    async AGENT_STATUS({ sender, envelope }) {
      const { status, report } = envelope.payload as { status: string; report?: string | null };
      await deps.agents.reportStatus(sender.id, status, report ?? null);
      await deps.announcePresence(sender.id);
      return { ok: true };
    },
  };
}
