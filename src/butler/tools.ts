import type { SystemLogService } from '../messages/system-log.service';
import type { User } from '../users/user.entity';
import type { UsersService } from '../users/users.service';
import type { AgentView } from '../users/user.view';
import type { AgentSummary, ButlerTools } from './brain';

const MAX_COMMAND = 2_000;

function summary(v: AgentView): AgentSummary {
  return {
    id: v.id,
    username: v.username,
    description: v.description,
    online: v.online,
    status: v.status,
    last_report: v.last_report,
    last_seen_at: v.last_seen_at,
  };
}

/** The Butler's tools for one turn, on behalf of `requester`. Must run inside an ORM request context. */
export function butlerTools(
  deps: { users: UsersService; systemLog: SystemLogService },
  fileRequest: (agent: User, command: string, reason: string) => Promise<{ action_id: string; status: string; expires_at: string }>,
): ButlerTools {
  const findAgent = async (nameOrId: string): Promise<User | null> => {
    const key = nameOrId.trim().replace(/^@/, '');
    const user = /^\d+$/.test(key) ? await deps.users.findById(Number(key)) : await deps.users.findByUsername(key);
    return user?.role === 'AGENT' ? user : null;
  };
  return {
    async listAgents() {
      const agents = await deps.users.list({ limit: 200 }, ['AGENT']);
      return ((await deps.users.views(agents)) as AgentView[]).map(summary);
    },
    async agentStatus(nameOrId) {
      const agent = await findAgent(nameOrId);
      if (!agent) return null;
      const view = (await deps.users.view(agent)) as AgentView;
      const log = await deps.systemLog.list({ agent_id: agent.id, limit: 5 });
      return { ...summary(view), recent_log: log.map((l) => ({ level: l.level, content: l.content, timestamp: l.timestamp })) };
    },
    async requestAction({ agent: name, command, reason }) {
      const agent = await findAgent(name);
      if (!agent) return { error: `I don't know an agent called "${name}".` };
      const cmd = command.trim();
      if (!cmd) return { error: 'The command is empty.' };
      if (cmd.length > MAX_COMMAND) return { error: `The command is longer than ${MAX_COMMAND} characters.` };
      const filed = await fileRequest(agent, cmd, reason.trim() || 'No reason given');
      return { ...filed, agent: agent.username };
    },
  };
}
