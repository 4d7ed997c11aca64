import type { MessageHandler } from '../shared/socket-handler';
import type { LogLevel } from './system-log.entity';
import type { SystemLogService } from './system-log.service';

/**
 * SYSTEM_LOG from an agent's socket: stored (committed), then pushed to every `/chat` socket and
 * `/monitor`, as an admin's `POST /api/messages` is. Runs in the unit of work the socket lane
 * opened for the event.
 */
export function systemLogHandlers(deps: { systemLog: Pick<SystemLogService, 'post'> }): { SYSTEM_LOG: MessageHandler } {
  return {
    async SYSTEM_LOG({ sender, envelope }) {
      const { level, content } = envelope.payload as { level: LogLevel; content: string };
      await deps.systemLog.post(sender, { level, content });
      return { ok: true };
    },
  };
}
