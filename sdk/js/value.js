// Path-based access to a decoded record value, the JavaScript twin of the
// Rust SDK's `sluice_plugin::value`.
//
// The host hands a value over as a WIT `packed-value` (sluice:transform@0.2.0):
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
/** Dotted paths split once: plugins look up the same few paths in every record. */
const splitPaths = new Map();

function segments(path) {
  let parts = splitPaths.get(path);
  if (parts === undefined) {
    parts = path.split('.');
    if (splitPaths.size < 4096) splitPaths.set(path, parts);
  }
  return parts;
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
    `a packed value is a byte buffer (sluice:transform@0.2.0 \`packed-value\`), not ${Object.prototype.toString.call(value)}`,
  );
}

/** The sections of a packed buffer, checked once per record. */
class Packed {
  constructor(value) {
    const bytes = asBytes(value);
    // Objects looked into so far: node index -> Map(name -> node).
    this.objects = new Map();
    this.whole = undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ok = bytes.length >= HEADER && MAGIC.every((b, i) => bytes[i] === b);
    const count = (i) => (ok ? view.getUint32(4 + 4 * i, true) : 0);
    const [n, r, f, t, b] = [0, 1, 2, 3, 4].map(count);
    if (!ok || HEADER + n * NODE + r * 4 + f * FIELD + t + b !== bytes.length) {
      // Never from the host; read as an empty value rather than crash.
      this.view = new DataView(new ArrayBuffer(0));
      this.bytes = new Uint8Array(0);
      this.nodes = this.items = this.fields = this.text = this.blobs = 0;
      this.count = 0;
      return;
    }
    this.view = view;
    this.bytes = bytes;
    this.count = n;
    this.nodes = HEADER;
    this.items = this.nodes + n * NODE;
    this.fields = this.items + r * 4;
    this.text = this.fields + f * FIELD;
    this.blobs = this.text + t;
    this.textEnd = this.blobs;
    this.blobsEnd = this.blobs + b;
  }

  /**
   * The text `[start, start + len)` of the text section. The section is
   * decoded once, by one native call; while it is ASCII (field names and
   * most values are) byte offsets are string offsets and a string is a
   * substring of it. Otherwise each string is decoded on its own.
   */
  string(start, len) {
    if (this.whole === undefined) {
      const all = utf8.decode(this.bytes.subarray(this.text, this.textEnd));
      this.whole = all.length === this.textEnd - this.text ? all : null;
    }
    if (this.whole !== null) return this.whole.substr(start, len);
    return utf8.decode(this.bytes.subarray(this.text + start, this.text + start + len));
  }

  /** Node `index`'s kind (0 null .. 7 object); 0 when out of range or malformed. */
  kind(index) {
    if (!(index < this.count)) return 0;
    const kind = this.bytes[this.nodes + index * NODE];
    if (kind > 7) return 0;
    if (kind >= 4) {
      const start = this.data32(index);
      if (start < 0) return 0;
      if (kind === 4 && this.text + start + this.len(index) > this.textEnd) return 0;
      if (kind === 5 && this.blobs + start + this.len(index) > this.blobsEnd) return 0;
    }
    return kind;
  }

  len(index) {
    return this.view.getUint32(this.nodes + index * NODE + 4, true);
  }

  /** The low 32 bits of a node's data: an offset or a first index. */
  data32(index) {
    const hi = this.view.getUint32(this.nodes + index * NODE + 12, true);
    return hi === 0 ? this.view.getUint32(this.nodes + index * NODE + 8, true) : -1;
  }

  /** Node `index` as `{ tag, val }`; out of range or malformed reads as null. */
  node(index) {
    const kind = this.kind(index);
    const at = this.nodes + index * NODE;
    switch (kind) {
      case 1:
        return { tag: 'boolean', val: this.view.getUint32(at + 8, true) !== 0 || this.view.getUint32(at + 12, true) !== 0 };
      case 2:
        return { tag: 'integer', val: this.view.getBigInt64(at + 8, true) };
      case 3:
        return { tag: 'float', val: this.view.getFloat64(at + 8, true) };
      case 4: // kind() checked the range.
        return { tag: 'text', val: this.string(this.data32(index), this.len(index)) };
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
      const at = this.items + (first + i) * 4;
      if (first < 0 || at + 4 > this.fields) break;
      out.push(this.view.getUint32(at, true));
    }
    return out;
  }

  objectFields(index) {
    const first = this.data32(index);
    const out = [];
    for (let i = 0; i < this.len(index); i++) {
      const at = this.fields + (first + i) * FIELD;
      if (first < 0 || at + FIELD > this.text) break;
      const [offset, len] = [this.view.getUint32(at, true), this.view.getUint32(at + 4, true)];
      if (this.text + offset + len > this.textEnd) break;
      out.push([this.string(offset, len), this.view.getUint32(at + 8, true)]);
    }
    return out;
  }

  /** The node of the first field of object `index` called `name`, or -1. */
  field(index, name) {
    let names = this.objects.get(index);
    if (names === undefined) {
      names = new Map();
      if (this.kind(index) === 7) {
        for (const [n, node] of this.objectFields(index)) {
          if (!names.has(n)) names.set(n, node);
        }
      }
      this.objects.set(index, names);
    }
    const node = names.get(name);
    return node === undefined ? -1 : node;
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
    const i = this.packed.field(this.index, name);
    return i < 0 ? undefined : new Value(this.packed, i);
  }

  /** Follows a dotted path of object members (`login.uuid`). */
  lookup(path) {
    let v = this;
    for (const name of segments(path)) {
      v = v.get(name);
      if (v === undefined) return undefined;
    }
    return v;
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
    const v = this.require(path);
    const s = v.asStr();
    if (s === undefined) throw fieldError(path, `must be text, found ${v.kind()}`);
    return s;
  }

  /** The scalar at `path` rendered as text (see `toText`). */
  requireText(path) {
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
