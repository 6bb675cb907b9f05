/**
 * Writes src/cli/schemas/<command>.schema.json, the JSON Schema of each command's --json document, from
 * the zod types in src/cli/json-schemas.ts (`npm run schemas`; test/json-output.test.ts fails when
 * the files are stale).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaFiles } from '../../src/cli/json-schema-files.js';

const dir = join(import.meta.dirname, '..', '..', 'src', 'cli', 'schemas');
for (const [name, text] of Object.entries(schemaFiles())) writeFileSync(join(dir, name), text);
