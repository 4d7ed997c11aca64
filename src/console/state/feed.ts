/**
 * The monitor's live feed: Butler↔agent traffic (`BUTLER_AGENT_MESSAGE`) and system log entries
 * (`SYSTEM_LOG`, or a page of `GET /api/messages`), newest first, bounded, deduplicated, filterable.
 */
import type { ButlerAgentMessagePayload, Envelope, SystemLogPayload } from '../../shared/protocol';

export interface FeedEntry {
  key: string;
  kind: 'traffic' | 'log';
  agent_id: number | null;
  agent_name: string;
  /** The log level; traffic has none. */
  level: string | null;
  direction?: 'TO_AGENT' | 'FROM_AGENT';
  text: string;
  timestamp: string;
}

export interface FeedFilter {
  /** An agent id, or undefined for all. */
  agentId?: number;
  /** A log level (traffic is hidden when set), or undefined for all. */
  level?: string;
}

/** How many entries the feed keeps: older ones are a `GET /api/messages` away. */
export const FEED_LIMIT = 500;

export class Feed {
  private entries: FeedEntry[] = [];
  private readonly keys = new Set<string>();

  private add(entry: FeedEntry): void {
    if (this.keys.has(entry.key)) return;
    this.keys.add(entry.key);
    this.entries.push(entry);
    this.entries.sort((a, b) => b.timestamp.localeCompare(a.timestamp));
    for (const dropped of this.entries.splice(FEED_LIMIT)) this.keys.delete(dropped.key);
  }

  log(entry: SystemLogPayload): void {
    this.add({ key: `log:${entry.id}`, kind: 'log', agent_id: entry.agent_id, agent_name: entry.agent_name, level: entry.level, text: entry.content, timestamp: entry.timestamp });
  }

  /** A `BUTLER_AGENT_MESSAGE`; `agentName` resolves the agent's id for display. */
  traffic(e: Envelope<ButlerAgentMessagePayload>, agentName: (id: number) => string): void {
    const { agent_id, direction, message } = e.payload;
    const text = typeof message.payload === 'string' ? message.payload : JSON.stringify(message.payload);
    this.add({ key: `msg:${message.id ?? `${message.stream_id}:${e.timestamp}`}:${direction}`, kind: 'traffic', agent_id, agent_name: agentName(agent_id), level: null, direction, text, timestamp: message.timestamp ?? e.timestamp });
  }

  /** Entries matching the filter, newest first. */
  view(filter: FeedFilter = {}): FeedEntry[] {
    return this.entries.filter((x) => (filter.agentId === undefined || x.agent_id === filter.agentId) && (filter.level === undefined || x.level === filter.level));
  }
}
