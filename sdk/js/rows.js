// Rows in the packed row layout of sluice:transform@0.3.0 (docs/packed-values.md,
// "Packed rows"): a batch's rows cross to the host as one byte buffer.
//
// Why: in 0.2.0 a plugin returned its rows as WIT records, and
// componentize-js lowers a record field by field in interpreted glue: some
// 140 us per 12-column row, 20 times what the Rust plugin spends on the
// whole record. Writing the same rows here costs a native `encodeInto` per
// string and a few typed-array stores.
//
// A plugin does not call this: it returns one outcome per record, rows as
// `row().….build()` objects, and the entry module that `host plugin build`
// (and plugins/flatten-js/build.mjs) wraps around it calls `batchOutput`.

const encoder = new TextEncoder();

const KIND = { upsert: 0, delete: 1 };
const HAS_TABLE = 1;
const HAS_TTL = 2;
const HAS_WRITE_TIME = 4;
const TAGS = {
  null: 0,
  text: 1,
  int: 2,
  bigint: 3,
  double: 4,
  boolean: 5,
  uuid: 6,
  timestamp: 7,
  date: 8,
  blob: 9,
  'text-list': 10,
  'text-set': 11,
  'text-map': 12,
};

/** Writes rows into one growing buffer, as the Rust SDK's `RowWriter` does. */
export class RowWriter {
  constructor(bytes = 4096) {
    this.buf = new Uint8Array(bytes);
    this.view = new DataView(this.buf.buffer);
    this.at = 0;
  }

  /** Room for `n` more bytes. */
  room(n) {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.at));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v) {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u32(v) {
    this.room(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }

  i64(v) {
    this.room(8);
    this.view.setBigInt64(this.at, typeof v === 'bigint' ? v : BigInt(v), true);
    this.at += 8;
  }

  /** A u32 byte length, then the UTF-8 of `s` (at most 3 bytes per UTF-16 unit). */
  str(s) {
    if (typeof s !== 'string') throw new TypeError(`a row's text must be a string, not ${typeof s}`);
    this.room(4 + 3 * s.length);
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.at + 4));
    this.view.setUint32(this.at, written, true);
    this.at += 4 + written;
  }

  bytes(b) {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** One row as the SDK's `row()` builds it. */
  row(r) {
    const kind = KIND[r.kind ?? 'upsert'];
    if (kind === undefined) throw new TypeError(`a row's kind is 'upsert' or 'delete', not ${r.kind}`);
    const table = r.table ?? null;
    const ttl = r.ttlSeconds ?? null;
    const writeTime = r.writeTimeMicros ?? null;
    this.u8(kind);
    this.u8((table !== null ? HAS_TABLE : 0) | (ttl !== null ? HAS_TTL : 0) | (writeTime !== null ? HAS_WRITE_TIME : 0));
    if (table !== null) this.str(table);
    if (ttl !== null) this.u32(ttl);
    if (writeTime !== null) this.i64(writeTime);
    const columns = r.columns;
    this.u32(columns.length);
    for (let i = 0; i < columns.length; i++) this.cell(columns[i].name, columns[i].value);
  }

  cell(name, value) {
    const tag = TAGS[value.tag];
    if (tag === undefined) throw new TypeError(`column \`${name}\`: no cell kind \`${value.tag}\``);
    this.str(name);
    this.u8(tag);
    const v = value.val;
    switch (tag) {
      case 0:
        return;
      case 1:
      case 6:
        return this.str(v);
      case 2:
      case 8:
        this.room(4);
        this.view.setInt32(this.at, v, true);
        this.at += 4;
        return;
      case 3:
      case 7:
        return this.i64(v);
      case 4:
        this.room(8);
        this.view.setFloat64(this.at, v, true);
        this.at += 8;
        return;
      case 5:
        return this.u8(v ? 1 : 0);
      case 9:
        return this.bytes(v);
      case 10:
      case 11:
        this.u32(v.length);
        for (let i = 0; i < v.length; i++) this.str(v[i]);
        return;
      default:
        this.u32(v.length);
        for (let i = 0; i < v.length; i++) {
          this.str(v[i][0]);
          this.str(v[i][1]);
        }
    }
  }

  /** The rows written, as one buffer. */
  finish() {
    return this.buf.subarray(0, this.at);
  }
}

/**
 * One outcome per record (what a plugin's `transform` returns: `rows([...])`,
 * `filtered(...)`, `badInput(...)`, `retry(...)`) -> the 0.3.0 world's
 * `batch-output`: the outcomes with row counts, and every row in one buffer.
 * A `batch-output` passes through as it is.
 */
export function batchOutput(outcomes) {
  if (!Array.isArray(outcomes)) return outcomes;
  const w = new RowWriter();
  const out = new Array(outcomes.length);
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    if (o.tag === 'rows') {
      const rows = o.val;
      for (let k = 0; k < rows.length; k++) w.row(rows[k]);
      out[i] = { tag: 'rows', val: rows.length };
    } else {
      out[i] = o;
    }
  }
  return { outcomes: out, rows: w.finish() };
}

/**
 * The module `host plugin build` componentizes: the plugin's own module,
 * whose `transform` returns one outcome per record, wrapped so the
 * component's `transform` returns a `batch-output`. `plugin` and `sdk` are
 * import specifiers relative to where the entry file is written.
 */
export function entryModule(plugin, sdk) {
  return `// Written by the build: the component's exports, around ${plugin}.
import * as plugin from ${JSON.stringify(plugin)};
import { batchOutput } from ${JSON.stringify(sdk)};
export function metadata() { return plugin.metadata(); }
export function init(config) { return plugin.init(config); }
export function transform(batch) { return batchOutput(plugin.transform(batch)); }
`;
}
