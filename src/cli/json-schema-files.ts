/** The JSON Schema files in src/cli/schemas/ (shipped as dist/schemas/), as text, made from the zod types of the --json documents. */
import { z } from 'zod';
import { jsonDocuments, type JsonCommand } from './json-schemas.js';

/** File name → contents, one file per command. */
export function schemaFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const command of Object.keys(jsonDocuments) as JsonCommand[]) {
    const schema = z.toJSONSchema(jsonDocuments[command], { target: 'draft-2020-12' });
    const titled = {
      ...schema,
      title: `rollout ${command} --json`,
      description: `The one JSON document \`rollout ${command} --json\` prints on stdout (with \`error\` when it failed).`,
    };
    files[`${command}.schema.json`] = `${JSON.stringify(titled, null, 2)}\n`;
  }
  return files;
}
