import type { ChatMessage, SenderRole, StoredType } from '../chat-message.entity';

/** A message to store; the log sets `id` and `createdAt`. */
export interface NewMessage {
  type: StoredType;
  localId?: string | null;
  senderId: number;
  senderName: string;
  senderRole: SenderRole;
  targetId: number | null;
  audience?: 'ADMINS' | null;
  /** JSON text of the payload. */
  payload: string;
  streamId?: string | null;
  replyTo?: number | null;
}

export interface Appended {
  message: ChatMessage;
  /** True when `localId` was already stored for this sender: nothing new was stored. */
  duplicate: boolean;
}

/** Called right after the commit, in id order, before the next group is delivered. */
export type Deliver = (appended: Appended) => void;

/**
 * How a group's deliveries leave this replica when several replicas share the log (PROTOCOL §5
 * across replicas): a replica that dies between its commit and its publish must not leave a hole
 * that later ids jump over. The bus keeps a mark of how far the log has been published.
 */
export interface GroupPublisher {
  /** The highest id whose group was published (`undefined`: unknown, nothing is checked; recovery only). */
  readMark(): Promise<number | undefined>;
  /**
   * Runs `deliver` and publishes everything it broadcasts together with the mark `lastId`, as one
   * unit; resolves when that is answered or has failed (failures are the bus's to handle). With
   * `null` (the gap below the group could not be checked) the stored messages are not published.
   */
  publishGroup(deliver: () => void, lastId: number | null): Promise<void>;
}

/**
 * Prepares the delivery of stored messages from their rows alone (look-ups may take time); the
 * returned function delivers them, in the order given (see `setRecovery`).
 */
export type Redeliver = (messages: ChatMessage[]) => Promise<() => void>;

/** One append waiting in the queue for its group. */
export interface Pending {
  input: NewMessage;
  deliver?: Deliver;
  resolve: (r: Appended) => void;
  reject: (e: unknown) => void;
}

/** What one append came to: stored (or found stored before), or why not. */
export type Outcome = Appended | Error;

/** Rows of other replicas' groups that were never published, ready to deliver. */
export interface Stranded {
  deliver: () => void;
  lastId: number;
}

/** Resolves (or rejects) each append of a delivered group with its outcome. */
export function settle(batch: Pending[], results: Outcome[]): void {
  batch.forEach((p, i) => {
    const r = results[i];
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
  });
}

/** The ids a group stored (not the duplicates it found), ascending: the INSERT drew them in VALUES order. */
export function freshIds(results: Outcome[]): number[] {
  return results.flatMap((r) => (r instanceof Error || r.duplicate ? [] : [r.message.id]));
}
