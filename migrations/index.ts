import { Migration20261129120000Initial } from './Migration20261129120000Initial';
import { Migration20261129130000AuthRequests } from './Migration20261129130000AuthRequests';

/** Every migration, in order. Registered explicitly so that the same list runs from TS and from dist/. */
export const MIGRATIONS = [
  { name: 'Migration20261129120000Initial', class: Migration20261129120000Initial },
  { name: 'Migration20261129130000AuthRequests', class: Migration20261129130000AuthRequests },
];
