// Path-based access to a decoded record value, the JavaScript twin of the
// Rust SDK's `sluice_plugin::value`.
//
// The host hands a value over as a WIT `packed-value` (sluice:transform@0.2.0 and later):
// one byte buffer, a Uint8Array here, laid out as docs/packed-values.md says.
// A `Value` is a cursor into it: nothing is decoded until asked for, and a
// string is decoded only when a plugin reads it, so a transform that reads 12
// fields of a 90-node record pays for 12. Integers are BigInts, as `s64` are
// in componentize-js.
//
// Lookups that fail throw an `InputError` naming the dotted path, with the
// same wording the Rust SDK uses, so all languages dead-letter alike.

const MAGIC = [0x53, 0x4c, 0x56, 0x31]; // "SLV1"
const HEADER = 24;
const NODE = 16;
const FIELD = 12;
const KINDS = ['null', 'boolean', 'integer', 'float', 'text', 'bytes', 'list', 'object'];
const NULL_NODE = Object.freeze({ tag: 'null' });

const utf8 = new TextDecoder();
const encoder = new TextEncoder();
/**
 * Dotted paths split once, each name as a byte string (one char per byte
 * of its UTF-8; for ASCII names, the name): plugins look up the same few
 * paths in every record, and compare them with the record's text as a
 * byte string (see `Packed.decodeText`).
 */
const splitPaths = new Map();
const names = new Map();

function cached(map, key, make) {
  let v = map.get(key);
  if (v === undefined) {
    v = make(key);
    if (map.size < 4096) map.set(key, v);
  }
  return v;
}

const byteString = (s) => String.fromCharCode.apply(null, encoder.encode(s));

function segments(path) {
  return cached(splitPaths, path, (p) => p.split('.').map(byteString));
}

function nameBytes(name) {
  return cached(names, name, byteString);
}

/** Why a record cannot be transformed; becomes a `bad-input` outcome. */
export class InputError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

/** An input error blaming `path`: "field `path` is missing". */
export function fieldError(path, what) {
  return new InputError(path, `field \`${path}\` ${what}`);
}

/**
 * The buffer as a Uint8Array: componentize-js hands a `list<u8>` over as an
 * array of numbers (a typed array in other bindings, an ArrayBuffer in some).
 */
function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (Array.isArray(value)) return Uint8Array.from(value);
  throw new TypeError(
    `a packed value is a byte buffer (sluice:transform \`packed-value\`), not ${Object.prototype.toString.call(value)}`,
  );
}

/**
 * The sections of a packed buffer, checked once per record.
 *
 * Written for SpiderMonkey's interpreter, where a plugin runs (there is no
 * JIT inside a component): every function call costs ~0.1 us and every
 * DataView call or substring more, so the tables are read through one
 * Uint32Array (every section before the text is 4-byte aligned; typed
 * arrays are little-endian, as Wasm is, like the layout) and a lookup is
 * one loop.
 */
class Packed {
  constructor(value) {
    let bytes = asBytes(value);
    this.bin = undefined;
    this.ascii = false;
    const ok = bytes.length >= HEADER && MAGIC.every((b, i) => bytes[i] === b);
    if (ok && bytes.byteOffset % 4 !== 0) bytes = bytes.slice();
    const w = ok ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
    const [n, r, f, t, b] = ok ? [w[1], w[2], w[3], w[4], w[5]] : [0, 0, 0, 0, 0];
    if (!ok || HEADER + n * NODE + r * 4 + f * FIELD + t + b !== bytes.length) {
      // Never from the host; read as an empty value rather than crash.
      this.bytes = new Uint8Array(0);
      this.w = new Uint32Array(0);
      this.count = this.itemsAt = this.fieldsAt = this.fieldsEnd = this.text = this.textLen = this.blobs = this.blobsLen = 0;
      return;
    }
    this.bytes = bytes;
    this.w = w;
    this.count = n;
    // Word indices of the item and field tables (a node is 4 words from word 6).
    this.itemsAt = (HEADER + n * NODE) >>> 2;
    this.fieldsAt = this.itemsAt + r;
    this.fieldsEnd = this.fieldsAt + 3 * f;
    // Byte offsets and lengths of the text and bytes sections.
    this.text = this.fieldsEnd * 4;
    this.textLen = t;
    this.blobs = this.text + t;
    this.blobsLen = b;
  }

  /**
   * The text `[start, start + len)` of the text section: a substring of
   * the section decoded once while the section is ASCII (field names and
   * most values are), else decoded on its own.
   */
  string(start, len) {
    if (this.bin === undefined) this.decodeText();
    if (this.ascii) return this.bin.substr(start, len);
    return utf8.decode(this.bytes.subarray(this.text + start, this.text + start + len));
  }

  /**
   * The text section as a byte string (one char per byte), in which a
   * name is found with one native `startsWith` where a loop over its
   * bytes costs ~80 ns a byte in the interpreter; and whether it is ASCII.
   */
  decodeText() {
    const text = this.bytes.subarray(this.text, this.text + this.textLen);
    const chunks = [];
    for (let at = 0; at < text.length; at += 4096) {
      chunks.push(String.fromCharCode.apply(null, text.subarray(at, at + 4096)));
    }
    this.bin = chunks.join('');
    this.ascii = utf8.decode(text).length === text.length;
  }

  /** Node `index`'s kind (0 null .. 7 object); 0 when out of range or malformed. */
  kind(index) {
    if (!(index >= 0 && index < this.count)) return 0;
    const w = this.w;
    const at = 6 + 4 * index;
    const kind = w[at] & 0xff;
    if (kind > 7) return 0;
    if (kind >= 4) {
      // An offset or first index past 32 bits, or text and bytes past their section.
      if (w[at + 3] !== 0) return 0;
      if (kind === 4 && w[at + 2] + w[at + 1] > this.textLen) return 0;
      if (kind === 5 && w[at + 2] + w[at + 1] > this.blobsLen) return 0;
    }
    return kind;
  }

  len(index) {
    return this.w[6 + 4 * index + 1];
  }

  /** The low 32 bits of a node's data: an offset or a first index (kind() checked the rest). */
  data32(index) {
    return this.w[6 + 4 * index + 2];
  }

  /** Node `index` as `{ tag, val }`; out of range or malformed reads as null. */
  node(index) {
    const kind = this.kind(index);
    const view = () => new DataView(this.bytes.buffer, this.bytes.byteOffset + HEADER + index * NODE + 8, 8);
    switch (kind) {
      case 1:
        return { tag: 'boolean', val: this.w[6 + 4 * index + 2] !== 0 || this.w[6 + 4 * index + 3] !== 0 };
      case 2:
        return { tag: 'integer', val: view().getBigInt64(0, true) };
      case 3:
        return { tag: 'float', val: view().getFloat64(0, true) };
      case 4: // kind() checked the range.
        return { tag: 'text', val: this.textOf(index) };
      case 5: {
        // kind() checked the range.
        const from = this.blobs + this.data32(index);
        return { tag: 'bytes', val: this.bytes.subarray(from, from + this.len(index)) };
      }
      case 6:
        return { tag: 'list', val: this.listItems(index) };
      case 7:
        return { tag: 'object', val: this.objectFields(index).map(([name, node]) => ({ name, node })) };
      default:
        return NULL_NODE;
    }
  }

  listItems(index) {
    const first = this.data32(index);
    const out = [];
    for (let i = 0; i < this.len(index); i++) {
      const at = this.itemsAt + first + i;
      if (at >= this.fieldsAt) break;
      out.push(this.w[at]);
    }
    return out;
  }

  objectFields(index) {
    const w = this.w;
    const out = [];
    let at = this.fieldsAt + 3 * this.data32(index);
    for (let i = 0; i < this.len(index); i++, at += 3) {
      if (at + 3 > this.fieldsEnd) break;
      const [offset, len] = [w[at], w[at + 1]];
      if (offset + len > this.textLen) break;
      out.push([this.string(offset, len), w[at + 2]]);
    }
    return out;
  }

  /** The node of the first field of object `index` called `name` (a byte string), or -1. */
  field(index, name) {
    // kind(index) === 7, inline: a call costs as much as the loop's turn.
    if (!(index >= 0 && index < this.count)) return -1;
    const w = this.w;
    const node = 6 + 4 * index;
    if ((w[node] & 0xff) !== 7 || w[node + 3] !== 0) return -1;
    if (this.bin === undefined) this.decodeText();
    const bin = this.bin;
    const want = name.length;
    const n = w[node + 1];
    let at = this.fieldsAt + 3 * w[node + 2];
    for (let i = 0; i < n; i++, at += 3) {
      if (at + 3 > this.fieldsEnd) break;
      const offset = w[at];
      const len = w[at + 1];
      if (offset + len > this.textLen) break;
      if (len === want && bin.startsWith(name, offset)) return w[at + 2];
    }
    return -1;
  }

  /**
   * The node at dotted `path` from node `index`, or -1: `field` for each
   * name, written out here since every call costs ~0.3 us in the interpreter.
   */
  path(index, path) {
    let parts = splitPaths.get(path);
    if (parts === undefined) parts = segments(path);
    if (this.bin === undefined) this.decodeText();
    const w = this.w;
    const bin = this.bin;
    for (let p = 0; p < parts.length; p++) {
      if (!(index >= 0 && index < this.count)) return -1;
      const node = 6 + 4 * index;
      if ((w[node] & 0xff) !== 7 || w[node + 3] !== 0) return -1;
      const name = parts[p];
      const want = name.length;
      const n = w[node + 1];
      let at = this.fieldsAt + 3 * w[node + 2];
      index = -1;
      for (let i = 0; i < n; i++, at += 3) {
        if (at + 3 > this.fieldsEnd) break;
        const offset = w[at];
        const len = w[at + 1];
        if (offset + len > this.textLen) break;
        if (len === want && bin.startsWith(name, offset)) {
          index = w[at + 2];
          break;
        }
      }
    }
    return index;
  }

  /** The text at `path` from node `index`, if there is text there (the common case of `requireStr`). */
  pathText(index, path) {
    const i = this.path(index, path);
    if (!(i >= 0 && i < this.count)) return undefined;
    const w = this.w;
    const node = 6 + 4 * i;
    const start = w[node + 2];
    const len = w[node + 1];
    if ((w[node] & 0xff) !== 4 || w[node + 3] !== 0 || start + len > this.textLen) return undefined;
    return this.ascii ? this.bin.substr(start, len) : this.string(start, len);
  }

  /** The text of node `index` (kind 4, checked by the caller). */
  textOf(index) {
    return this.string(this.w[6 + 4 * index + 2], this.w[6 + 4 * index + 1]);
  }
}

/** A cursor at one node of a packed value. */
export class Value {
  constructor(packed, index = 0) {
    this.packed = packed;
    this.index = index;
  }

  /** The root of a record's value (`input-record.value`, a Uint8Array). */
  static root(bytes) {
    return new Value(new Packed(bytes), 0);
  }

  /** The node under the cursor as `{ tag, val }` (`val` of a list: node indices). */
  node() {
    return this.packed.node(this.index);
  }

  /** The member `name` of an object (the first, if repeated), or undefined. */
  get(name) {
    const i = this.packed.field(this.index, nameBytes(name));
    return i < 0 ? undefined : new Value(this.packed, i);
  }

  /** Follows a dotted path of object members (`login.uuid`). */
  lookup(path) {
    const i = this.packed.path(this.index, path);
    return i < 0 ? undefined : new Value(this.packed, i);
  }

  /** The node's kind, as the Rust SDK names it in messages. */
  kind() {
    return KINDS[this.packed.kind(this.index)] ?? 'null';
  }

  /** True for null (or a node that is not there). */
  isNull() {
    return this.kind() === 'null';
  }

  /** The string, if this is text. */
  asStr() {
    if (this.packed.kind(this.index) !== 4) return undefined;
    const n = this.node();
    return n.tag === 'text' ? n.val : undefined;
  }

  /** The integer (a BigInt), if this is one. */
  asInt() {
    return this.packed.kind(this.index) === 2 ? this.node().val : undefined;
  }

  /** The number, if this is a float or an integer. */
  asFloat() {
    const n = this.node();
    if (n.tag === 'float') return n.val;
    if (n.tag === 'integer') return Number(n.val);
    return undefined;
  }

  /** The boolean, if this is one. */
  asBool() {
    return this.packed.kind(this.index) === 1 ? this.node().val : undefined;
  }

  /** The bytes (a Uint8Array view), if this is bytes. */
  asBytes() {
    const n = this.node();
    return n.tag === 'bytes' ? n.val : undefined;
  }

  /** The items of a list, as Values (empty for anything else). */
  items() {
    if (this.packed.kind(this.index) !== 6) return [];
    return this.packed.listItems(this.index).map((i) => new Value(this.packed, i));
  }

  /** The fields of an object as `[name, Value]` pairs (empty for anything else). */
  entries() {
    if (this.packed.kind(this.index) !== 7) return [];
    return this.packed.objectFields(this.index).map(([name, i]) => [name, new Value(this.packed, i)]);
  }

  /**
   * A scalar rendered as text, as Rust's `Display` would: strings as they
   * are, integers in decimal, floats in shortest form without an exponent,
   * booleans as `true`/`false`. Undefined for anything else.
   */
  toText() {
    const n = this.node();
    switch (n.tag) {
      case 'text':
        return n.val;
      case 'integer':
        return String(n.val);
      case 'float':
        return rustFloat(n.val);
      case 'boolean':
        return n.val ? 'true' : 'false';
      default:
        return undefined;
    }
  }

  /** The value at `path`; throws naming the field when missing or null. */
  require(path) {
    const v = this.lookup(path);
    if (v === undefined) throw fieldError(path, 'is missing');
    if (v.isNull()) throw fieldError(path, 'is null');
    return v;
  }

  /** The text at `path`; throws naming the field otherwise. */
  requireStr(path) {
    // The common case straight from the buffer: no `Value` or node objects.
    const s0 = this.packed.pathText(this.index, path);
    if (s0 !== undefined) return s0;
    const v = this.require(path);
    const s = v.asStr();
    if (s === undefined) throw fieldError(path, `must be text, found ${v.kind()}`);
    return s;
  }

  /** The scalar at `path` rendered as text (see `toText`). */
  requireText(path) {
    const s0 = this.packed.pathText(this.index, path);
    if (s0 !== undefined) return s0;
    const v = this.require(path);
    const s = v.toText();
    if (s === undefined) throw fieldError(path, `must be text or a number, found ${v.kind()}`);
    return s;
  }
}

/**
 * Packs a JSON-like value the way the host does (`packed-value`): for tests,
 * and for anyone who wants to hand a plugin a value outside the host.
 * Integers (BigInts, or Numbers that are safe integers) become integers, other Numbers floats.
 */
export function pack(json) {
  // Breadth-first numbering: a container's children get consecutive indices.
  const order = [json];
  const first = [];
  for (let i = 0; i < order.length; i++) {
    const v = order[i];
    first.push(order.length);
    if (Array.isArray(v)) order.push(...v);
    else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) order.push(...Object.values(v));
  }
  const text = [];
  let textLen = 0;
  const blobs = [];
  let blobLen = 0;
  const putText = (s) => {
    const b = encoder.encode(s);
    text.push(b);
    textLen += b.length;
    return [textLen - b.length, b.length];
  };
  const nodes = [];
  const items = [];
  const fields = [];
  order.forEach((v, i) => {
    if (v === null || v === undefined) nodes.push([0, 0, 0n]);
    else if (typeof v === 'boolean') nodes.push([1, 0, v ? 1n : 0n]);
    else if (typeof v === 'bigint') nodes.push([2, 0, BigInt.asUintN(64, v)]);
    else if (typeof v === 'number' && Number.isSafeInteger(v)) nodes.push([2, 0, BigInt.asUintN(64, BigInt(v))]);
    else if (typeof v === 'number') {
      const f = new DataView(new ArrayBuffer(8));
      f.setFloat64(0, v, true);
      nodes.push([3, 0, f.getBigUint64(0, true)]);
    } else if (typeof v === 'string') {
      const [off, len] = putText(v);
      nodes.push([4, len, BigInt(off)]);
    } else if (v instanceof Uint8Array) {
      blobs.push(v);
      blobLen += v.length;
      nodes.push([5, v.length, BigInt(blobLen - v.length)]);
    } else if (Array.isArray(v)) {
      nodes.push([6, v.length, BigInt(items.length)]);
      v.forEach((_, k) => items.push(first[i] + k));
    } else {
      const names = Object.keys(v);
      nodes.push([7, names.length, BigInt(fields.length)]);
      names.forEach((name, k) => fields.push([...putText(name), first[i] + k]));
    }
  });
  const size = HEADER + nodes.length * NODE + items.length * 4 + fields.length * FIELD + textLen + blobLen;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  [nodes.length, items.length, fields.length, textLen, blobLen].forEach((c, k) => view.setUint32(4 + 4 * k, c, true));
  let at = HEADER;
  for (const [kind, len, data] of nodes) {
    out[at] = kind;
    view.setUint32(at + 4, len, true);
    view.setBigUint64(at + 8, data, true);
    at += NODE;
  }
  for (const item of items) {
    view.setUint32(at, item, true);
    at += 4;
  }
  for (const [off, len, node] of fields) {
    view.setUint32(at, off, true);
    view.setUint32(at + 4, len, true);
    view.setUint32(at + 8, node, true);
    at += FIELD;
  }
  for (const b of text) {
    out.set(b, at);
    at += b.length;
  }
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Formats a float like Rust's `f64` `Display`: `1` for 1.0, never `1e21`. */
export function rustFloat(f) {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return 'inf';
  if (f === -Infinity) return '-inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  // toExponential() gives the shortest digits that round-trip, as Rust does.
  const [mantissa, exp] = Math.abs(f).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const point = Number(exp) + 1; // digits before the decimal point
  let s;
  if (point <= 0) s = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) s = digits + '0'.repeat(point - digits.length);
  else s = digits.slice(0, point) + '.' + digits.slice(point);
  return (f < 0 ? '-' : '') + s;
}

/**
 * Quotes a string like Rust's `{:?}`: in double quotes, with `"`, `\`,
 * tab, CR, LF and NUL escaped and other control characters as `\u{..}`.
 * (Rust also escapes some non-printable Unicode; such input is rare.)
 */
export function rustDebugStr(s) {
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === '\n') out += '\\n';
    else if (code === 0) out += '\\0';
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\u{${code.toString(16)}}`;
    else out += c;
  }
  return out + '"';
}
