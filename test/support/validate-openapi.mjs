// Validates an OpenAPI document against the official 3.x JSON schemas (@seriousme/openapi-schema-validator,
// an ES module, so jest's CommonJS runtime calls it through this child process). Prints {valid, version, errors}.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';

const validator = new Validator();
const result = await validator.validate(JSON.parse(readFileSync(process.argv[2], 'utf8')));
process.stdout.write(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? null }));
