// Path-based access to a decoded record value, the JavaScript twin of the
// Rust SDK's `sluice_plugin::value`.
//
// The host hands a value over as the WIT `value-tree`: a flat list of nodes,
// root at index 0, containers pointing at their children by index. In
// componentize-js a node is `{ tag, val }` (`tag` is the WIT case name), an
// `s64` is a BigInt and a `list<u32>` may be a typed array.
//
// Lookups that fail throw an `InputError` naming the dotted path, with the
// same wording the Rust SDK uses, so all languages dead-letter alike.

const NULL = { tag: 'null' };

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

/** A cursor at one node of a value tree. */
export class Value {
  constructor(nodes, index = 0) {
    this.nodes = nodes;
    this.index = index;
  }

  /** The root of a tree (`value-tree.nodes[0]`). */
  static root(tree) {
    return new Value(tree.nodes, 0);
  }

  /** The node under the cursor; a dangling index reads as null. */
  node() {
    return this.nodes[this.index] ?? NULL;
  }

  /** The member `name` of an object (the first, if repeated), or undefined. */
  get(name) {
    const n = this.node();
    if (n.tag !== 'object') return undefined;
    for (const f of n.val) {
      if (f.name === name) return new Value(this.nodes, f.node);
    }
    return undefined;
  }

  /** Follows a dotted path of object members (`login.uuid`). */
  lookup(path) {
    let v = this;
    for (const name of path.split('.')) {
      v = v.get(name);
      if (v === undefined) return undefined;
    }
    return v;
  }

  /** The node's kind, as the Rust SDK names it in messages. */
  kind() {
    return this.node().tag;
  }

  /** The string, if this is text. */
  asStr() {
    const n = this.node();
    return n.tag === 'text' ? n.val : undefined;
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
    if (v.node().tag === 'null') throw fieldError(path, 'is null');
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
