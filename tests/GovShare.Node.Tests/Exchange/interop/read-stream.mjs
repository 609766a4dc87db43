// Reads one Arrow IPC stream file with apache-arrow (JavaScript) and prints what it found as
// JSON: row count, columns (name, type, masking metadata) and every value of every column.
// Used by ArrowInteropTests; an independent implementation proves the stream is standard Arrow.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';

const path = process.argv[2];
if (!path) {
  console.error('usage: node read-stream.mjs <file.arrows>');
  process.exit(2);
}

const table = tableFromIPC(readFileSync(path));
const columns = table.schema.fields.map((field) => ({
  name: field.name,
  type: String(field.type),
  masking: field.metadata.get('govshare:masking') ?? null,
}));
const values = {};
for (const field of table.schema.fields) {
  const vector = table.getChild(field.name);
  values[field.name] = Array.from({ length: table.numRows }, (_, i) => {
    const v = vector.get(i);
    return typeof v === 'bigint' ? v.toString() : v === null ? null : String(v);
  });
}

process.stdout.write(JSON.stringify({ rows: table.numRows, batches: table.batches.length, columns, values }));
