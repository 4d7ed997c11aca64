/**
 * The name of every migration in `index.ts`, in the same order (a test checks that they agree). The
 * server compares them with the migrations table at start and loads the migrator only when one is
 * missing: the migrator, umzug and their CLI libraries are several MB that a replica on a current
 * database would otherwise keep in memory for its whole life.
 */
export const MIGRATION_NAMES: readonly string[] = ['Migration20261129120000Initial', 'Migration20261129130000AuthRequests'];
