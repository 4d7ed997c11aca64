import { freshIds, settle, type Outcome, type Pending } from './log.types';

/**
 * The drain loop on SQLite (one connection, one writer, one replica): the next group's INSERT is
 * sent to the driver's thread *before* the group just committed is delivered on this one, so that
 * the two overlap. Order is kept: a group commits only after the one before it has committed, and is
 * delivered (and, with Redis, published) only after that one's deliveries.
 *
 * `queue` is the log's queue, read as it grows; `store` never rejects (see GroupWriter.store).
 */
export async function drainPipelined(
  queue: Pending[],
  maxBatch: number,
  store: (batch: Pending[]) => Promise<Outcome[]>,
  deliver: (batch: Pending[], results: Outcome[], last: number | undefined) => Promise<void>,
  done: (batch: Pending[], results: Outcome[]) => void = settle,
): Promise<void> {
  let committed: { batch: Pending[]; results: Outcome[] } | undefined;
  while (queue.length || committed) {
    const batch = queue.splice(0, maxBatch);
    const next = batch.length ? store(batch).then((results) => ({ batch, results })) : undefined;
    if (committed) {
      // A delivery fault must not undo a commit: the messages are stored and reachable by replay.
      const ids = freshIds(committed.results);
      await deliver(committed.batch, committed.results, ids[ids.length - 1]).catch(() => undefined);
      done(committed.batch, committed.results);
    }
    committed = await next;
  }
}
