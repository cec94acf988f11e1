// Native checks of the SDK's packed-row writer: `node --test`. The host's
// reader checks every byte in crates/packed; host/tests/polyglot.rs has the
// host read rows flatten-js wrote and compares them with the Rust plugin's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowWriter, batchOutput, entryModule } from './rows.js';
import { badInput, filtered, row, rows } from './index.js';

/** A reader of the documented layout, just enough to check the writer. */
function read(buf) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let at = 0;
  const u8 = () => buf[at++];
  const u32 = () => ((at += 4), view.getUint32(at - 4, true));
  const i32 = () => ((at += 4), view.getInt32(at - 4, true));
  const i64 = () => ((at += 8), view.getBigInt64(at - 8, true));
  const str = () => {
    const n = u32();
    at += n;
    return utf8.decode(buf.subarray(at - n, at));
  };
  const out = [];
  while (at < buf.length) {
    const kind = u8();
    const flags = u8();
    const r = { kind, table: flags & 1 ? str() : null, ttl: flags & 2 ? u32() : null, time: flags & 4 ? i64() : null, cells: [] };
    for (let c = u32(); c > 0; c--) {
      const name = str();
      const tag = u8();
      const list = () => Array.from({ length: u32() }, str);
      const val = [
        () => null,
        str,
        i32,
        i64,
        () => ((at += 8), view.getFloat64(at - 8, true)),
        () => u8() === 1,
        str,
        i64,
        i32,
        () => {
          const n = u32();
          at += n;
          return [...buf.subarray(at - n, at)];
        },
        list,
        list,
        () => Array.from({ length: u32() }, () => [str(), str()]),
      ][tag]();
      r.cells.push([name, tag, val]);
    }
    out.push(r);
  }
  return out;
}

test('a row is laid out as docs/packed-values.md says, byte for byte', () => {
  const w = new RowWriter(8);
  w.row(row().int('n', 7).build());
  assert.deepEqual([...w.finish()], [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x6e, 2, 7, 0, 0, 0]);
});

test('every cell kind, the row options and non-ASCII text read back', () => {
  const r = row('by_country')
    .text('city', 'Zürich – 東京')
    .uuid('id', '8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10')
    .int('n', -3)
    .bigint('big', 2n ** 62n)
    .double('f', 1.5)
    .boolean('yes', true)
    .timestamp('at', 1700000000123)
    .null('gone')
    .ttlSeconds(60)
    .writeTimeMicros(5)
    .build();
  r.columns.push({ name: 'd', value: { tag: 'date', val: 19000 } });
  r.columns.push({ name: 'raw', value: { tag: 'blob', val: new Uint8Array([1, 2, 255]) } });
  r.columns.push({ name: 'l', value: { tag: 'text-list', val: ['a', 'ë'] } });
  r.columns.push({ name: 's', value: { tag: 'text-set', val: [] } });
  r.columns.push({ name: 'm', value: { tag: 'text-map', val: [['k', 'v']] } });
  // A small start, so the buffer has to grow.
  const w = new RowWriter(4);
  w.row(r);
  w.row(row().uuid('id', 'x').delete().build());
  const [a, b] = read(w.finish());
  assert.deepEqual([a.kind, a.table, a.ttl, a.time], [0, 'by_country', 60, 5n]);
  assert.deepEqual(a.cells, [
    ['city', 1, 'Zürich – 東京'],
    ['id', 6, '8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10'],
    ['n', 2, -3],
    ['big', 3, 2n ** 62n],
    ['f', 4, 1.5],
    ['yes', 5, true],
    ['at', 7, 1700000000123n],
    ['gone', 0, null],
    ['d', 8, 19000],
    ['raw', 9, [1, 2, 255]],
    ['l', 10, ['a', 'ë']],
    ['s', 11, []],
    ['m', 12, [['k', 'v']]],
  ]);
  assert.deepEqual([b.kind, b.table, b.ttl, b.time, b.cells], [1, null, null, null, [['id', 6, 'x']]]);
});

test('outcomes become counts, and their rows one buffer in outcome order', () => {
  const out = batchOutput([
    rows([row().text('a', '1').build(), row().text('a', '2').build()]),
    filtered('not wanted'),
    badInput({ field: 'x', message: 'field `x` is missing' }),
    rows([]),
    rows([row().text('a', '3').build()]),
  ]);
  assert.deepEqual(out.outcomes, [
    { tag: 'rows', val: 2 },
    { tag: 'filtered', val: 'not wanted' },
    { tag: 'bad-input', val: { field: 'x', message: 'field `x` is missing' } },
    { tag: 'rows', val: 0 },
    { tag: 'rows', val: 1 },
  ]);
  assert.deepEqual(
    read(out.rows).map((r) => r.cells[0][2]),
    ['1', '2', '3'],
  );
  // A batch-output passes through.
  assert.equal(batchOutput(out), out);
});

test('a cell the world has no kind for is refused naming the column', () => {
  const w = new RowWriter();
  assert.throws(() => w.row({ columns: [{ name: 'c', value: { tag: 'decimal', val: 1 } }] }), /column `c`: no cell kind `decimal`/);
  assert.throws(() => w.row({ columns: [{ name: 'c', value: { tag: 'text', val: 5 } }] }), /must be a string/);
});

test('the entry module wraps the plugin module', () => {
  const src = entryModule('./transform.js', './node_modules/sluice-plugin/index.js');
  assert.match(src, /import \* as plugin from "\.\/transform\.js";/);
  assert.match(src, /return batchOutput\(plugin\.transform\(batch\)\);/);
});
