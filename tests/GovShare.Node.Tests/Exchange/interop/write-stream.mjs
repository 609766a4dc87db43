// Writes an Arrow IPC stream with apache-arrow (JavaScript) to the given file: the items a
// provider department might push, written by an implementation other than the node's own.
import { writeFileSync } from 'node:fs';
import { tableToIPC, vectorFromArray, Utf8, Int32, Float64, Bool, DateDay, TimestampMillisecond, Table } from 'apache-arrow';

const path = process.argv[2];
if (!path) {
  console.error('usage: node write-stream.mjs <file.arrows>');
  process.exit(2);
}

const rows = 1000;
const id = [];
const name = [];
const age = [];
const income = [];
const active = [];
const birth = [];
const registered = [];
for (let i = 0; i < rows; i++) {
  id.push(i % 10 === 3 ? null : `5301021990010${String(i).padStart(5, '0')}`);
  name.push(['张三', '李小明', '王五', ''][i % 4]);
  age.push(i % 100);
  income.push(i * 0.5);
  active.push(i % 3 === 0);
  birth.push(new Date(Date.UTC(1950 + (i % 60), i % 12, 1 + (i % 28))));
  registered.push(new Date(Date.UTC(2020, 0, 1) + i * 3600000));
}

const table = new Table({
  id_number: vectorFromArray(id, new Utf8()),
  name: vectorFromArray(name, new Utf8()),
  age: vectorFromArray(age, new Int32()),
  income: vectorFromArray(income, new Float64()),
  active: vectorFromArray(active, new Bool()),
  birth: vectorFromArray(birth, new DateDay()),
  registered: vectorFromArray(registered, new TimestampMillisecond()),
});
writeFileSync(path, tableToIPC(table, 'stream'));
