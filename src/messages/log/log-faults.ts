/**
 * Fault injection into the message log, given at construction (`createApp(config, { logFaults })`).
 * Production passes none. The log reads the fields at each group, so a test may set and clear them
 * on the object it passed while the app runs.
 */
export interface LogFaults {
  /** Runs inside the transaction, after the INSERT has drawn the ids, before the COMMIT. */
  beforeCommit?(): Promise<void>;
  /**
   * Runs after the commit, before the deliveries. A throw stands for a replica that dies at that
   * moment: the group is stored and never delivered (nor acked) by this replica.
   */
  afterCommit?(): Promise<void>;
}
