/** What a brain may do besides talking: the Butler's tools (PROTOCOL §6). */
export interface ButlerTools {
  /** Agents with presence and status. */
  listAgents(): Promise<AgentSummary[]>;
  /** One agent's status and recent system log; null when there is no such agent. */
  agentStatus(nameOrId: string): Promise<(AgentSummary & { recent_log: { level: string; content: string; timestamp: string }[] }) | null>;
  /** Files an authorization request for an agent action; nothing reaches the agent before an admin approves. */
  requestAction(input: { agent: string; command: string; reason: string }): Promise<{ action_id: string; agent: string; status: string; expires_at: string } | { error: string }>;
}

export interface AgentSummary {
  id: number;
  username: string;
  description: string | null;
  online: boolean;
  status: string | null;
  last_report: string | null;
  last_seen_at: string | null;
}

export interface HistoryItem {
  role: 'user' | 'assistant';
  content: string;
}

export interface TurnInput {
  /** The requester's name, for the rule-based brain's phrasing and the model's context. */
  username: string;
  text: string;
  /** Earlier turns of this conversation, oldest first, already bounded. */
  history: HistoryItem[];
}

export interface TurnIO {
  /** Streams a chunk of the reply to the user. */
  emit(chunk: string): void;
  tools: ButlerTools;
  /** Aborted at the turn's deadline. */
  signal: AbortSignal;
}

/** One brain per replica: the model-backed one or the rule-based one, behind the same interface. */
export interface Brain {
  readonly mode: 'llm' | 'rules';
  /** Runs one turn, streaming through `io.emit`; resolves when the reply is complete. */
  reply(input: TurnInput, io: TurnIO): Promise<void>;
  /** Summarises older turns so that a long conversation fits the context (model only). */
  summarise?(history: HistoryItem[], signal: AbortSignal): Promise<string>;
  /** Words for a failure of the brain's own client (model only); undefined when it is not one. */
  explain?(err: unknown): string | undefined;
}
