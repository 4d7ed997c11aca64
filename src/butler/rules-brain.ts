import type { Brain, TurnInput, TurnIO } from './brain';

export const RULES_HELP = [
  'I understand:',
  '• "list agents" — who is there and who is online',
  '• "status of <agent>" — an agent\'s status, last report and recent log',
  '• "ask <agent> to <command>" (or "tell <agent> to …") — I file the request; an admin must approve it before the agent gets it',
].join('\n');

const LIST = /^\s*(?:please\s+)?(?:list|show)(?:\s+(?:me\s+)?(?:all\s+)?(?:the\s+)?)?\s*agents\s*[?.!]*\s*$/i;
const STATUS = /^\s*(?:what\s+is\s+|what's\s+)?(?:the\s+)?status\s+of\s+(?:agent\s+)?@?([A-Za-z0-9_.-]{1,64})\s*[?.!]*\s*$/i;
const ACT = /^\s*(?:please\s+)?(?:ask|tell)\s+(?:agent\s+)?@?([A-Za-z0-9_.-]{1,64})\s+to\s+([\s\S]+?)\s*$/i;

/**
 * The built-in brain used when no model is configured: plain commands, case-insensitive, so that the
 * whole flow (including authorization) works on a fresh machine without a key.
 */
export class RulesBrain implements Brain {
  readonly mode = 'rules' as const;

  async reply(input: TurnInput, io: TurnIO): Promise<void> {
    const say = (text: string) => streamWords(text, io);
    const text = input.text.trim();
    if (LIST.test(text)) {
      const agents = await io.tools.listAgents();
      if (!agents.length) return say('There are no agents yet.');
      const lines = agents.map((a) => `• ${a.username} — ${a.online ? 'online' : 'offline'}${a.status ? `, ${a.status}` : ''}`);
      return say(`Agents (${agents.length}):\n${lines.join('\n')}`);
    }
    const status = STATUS.exec(text);
    if (status) {
      const a = await io.tools.agentStatus(status[1]);
      if (!a) return say(`I don't know an agent called "${status[1]}".`);
      const log = a.recent_log.slice(0, 3).map((l) => `  [${l.level}] ${l.content}`);
      return say(
        `${a.username} is ${a.online ? 'online' : 'offline'}; status: ${a.status ?? 'unknown'}; last report: ${a.last_report ?? 'none'}` +
          (log.length ? `\nRecent log:\n${log.join('\n')}` : ''),
      );
    }
    const act = ACT.exec(text);
    if (act) {
      const result = await io.tools.requestAction({ agent: act[1], command: act[2], reason: `${input.username} asked: "${text}"` });
      if ('error' in result) return say(result.error);
      return say(`I asked for approval to have ${result.agent} do: ${act[2]}\nAction ${result.action_id} is waiting for an admin (expires ${result.expires_at}).`);
    }
    return say(`Sorry, I didn't understand that. ${RULES_HELP}`);
  }
}

/** Streams text word by word, so that clients see the same chunked shape as with a model. */
function streamWords(text: string, io: TurnIO): void {
  for (const chunk of text.match(/\S+\s*/g) ?? [text]) io.emit(chunk);
}
