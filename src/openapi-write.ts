import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildOpenApiDocument } from './openapi/openapi.document';

/** Where the committed document lives; test/rest/openapi.test.ts fails when it differs from the code. */
export const OPENAPI_FILE = 'src/openapi/openapi.json';

/** The committed form: two-space JSON and a final newline, so diffs read well. */
export const formatOpenApi = (doc: object) => `${JSON.stringify(doc, null, 2)}\n`;

/** `npm run openapi`: rewrites src/openapi/openapi.json from the routes' schemas. */
if (require.main === module) {
  const file = resolve(__dirname, '../..', OPENAPI_FILE);
  writeFileSync(file, formatOpenApi(buildOpenApiDocument()));
  process.stdout.write(`wrote ${file}\n`);
}
