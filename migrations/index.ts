import { Migration20261129120000Initial } from './Migration20261129120000Initial';

/** Every migration, in order. Registered explicitly so that the same list runs from TS and from dist/. */
export const MIGRATIONS = [{ name: 'Migration20261129120000Initial', class: Migration20261129120000Initial }];
