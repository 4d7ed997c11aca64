import type { ChatHistoryService } from '../messages/chat-history.service';
import type { Brain, HistoryItem } from './brain';

const MAX_MESSAGES = 60;
const KEEP_CHARS = 8_000;

/**
 * A conversation's context, rebuilt from the stored history on every turn, so any replica can continue
 * it and a restart loses nothing. Bounded: the newest turns that fit KEEP_CHARS stay verbatim; older
 * ones are summarised by the model when there is one, and dropped otherwise.
 */
export class ConversationMemory {
  /** Summaries by user and the last message id they cover (per replica; a miss just recomputes). */
  private readonly summaries = new Map<number, { upTo: number; text: string }>();

  constructor(
    private readonly history: ChatHistoryService,
    private readonly brain: Brain,
  ) {}

  /**
   * The context for the turn answering message `currentId`. A user may send while an earlier turn is
   * still streaming, so that turn's answer can have a larger id than `currentId`: read the newest
   * history, leave out the current and later questions (and answers to them), and put each answer
   * right after the question it replies to.
   */
  async load(userId: number, butlerId: number, currentId: number, signal: AbortSignal): Promise<HistoryItem[]> {
    const rows = await this.history.conversation(userId, butlerId, { limit: MAX_MESSAGES });
    const items = rows
      .filter((m) => m.type === 'CHAT')
      .filter((m) => (m.sender_id === butlerId ? (m.reply_to ?? 0) < currentId : m.id! < currentId))
      .map((m) => ({
        id: m.id!,
        at: m.sender_id === butlerId && m.reply_to ? m.reply_to + 0.5 : m.id!,
        item: { role: m.sender_id === butlerId ? 'assistant' : 'user', content: asText(m.payload) } as HistoryItem,
      }))
      .sort((a, b) => a.at - b.at);
    let used = 0;
    let cut = items.length;
    while (cut > 0 && used + items[cut - 1].item.content.length <= KEEP_CHARS) used += items[--cut].item.content.length;
    const kept = items.slice(cut).map((x) => x.item);
    const older = items.slice(0, cut);
    if (!older.length || !this.brain.summarise) return kept;
    // Reuse the last summary while what it does not cover still fits: one summary request per
    // KEEP_CHARS of new conversation, not one per turn.
    const cached = this.summaries.get(userId);
    if (cached && older.some((x) => x.id <= cached.upTo)) {
      const uncovered = older.filter((x) => x.id > cached.upTo);
      if (uncovered.reduce((n, x) => n + x.item.content.length, 0) <= KEEP_CHARS) {
        return [summaryItem(cached.text), ...uncovered.map((x) => x.item), ...kept];
      }
    }
    const summary = { upTo: Math.max(...older.map((x) => x.id)), text: await this.brain.summarise(older.map((x) => x.item), signal) };
    this.summaries.set(userId, summary);
    return [summaryItem(summary.text), ...kept];
  }
}

const summaryItem = (text: string): HistoryItem => ({ role: 'assistant', content: `Summary of our earlier conversation: ${text}` });

/** The text of a CHAT payload: a string as is, `{text}`/`{content}` objects by field, else JSON. */
export function asText(payload: unknown): string {
  if (typeof payload === 'string') return payload;
  if (payload && typeof payload === 'object') {
    const p = payload as { text?: unknown; content?: unknown };
    if (typeof p.text === 'string') return p.text;
    if (typeof p.content === 'string') return p.content;
  }
  return JSON.stringify(payload);
}
