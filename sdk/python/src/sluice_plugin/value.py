"""Path-based access to a decoded record value: the Python twin of the Rust
SDK's `sluice_plugin::value`.

The host hands a value over as a WIT `packed-value` (sluice:transform@0.2.0):
one byte buffer (`bytes` in componentize-py), laid out as
docs/packed-values.md says. A `Value` is a cursor into it: nothing is decoded
until asked for, and a string only when a plugin reads it. Pure Python: it
needs no bindings, so unit tests can use it as is (`pack` builds a value).

Lookups that fail raise `InputError` naming the dotted path, with the same
wording the Rust SDK uses, so all languages dead-letter alike.
"""

import math
import struct

_MAGIC = b"SLV1"
_HEADER = 24
_NODE = 16
_FIELD = 12
_KINDS = ("null", "boolean", "integer", "float", "text", "bytes", "list", "object")
_COUNTS = struct.Struct("<5I")
_NODE_AT = struct.Struct("<B3xIQ")  # kind, len, data
_FIELD_AT = struct.Struct("<3I")  # name offset, name length, node
_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")


class InputError(Exception):
    """Why a record cannot be transformed; becomes a `bad-input` outcome."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def field_error(path, what):
    """An input error blaming `path`: "field `path` is missing"."""
    return InputError(path, f"field `{path}` {what}")


_FIELD_TABLES = {}


def _field_table(count):
    """A Struct reading `count` fields' three u32 at once (cached by count)."""
    st = _FIELD_TABLES.get(count)
    if st is None:
        st = struct.Struct(f"<{3 * count}I")
        if len(_FIELD_TABLES) < 256:
            _FIELD_TABLES[count] = st
    return st


class _Packed:
    """The sections of a packed buffer, checked once per record and read in
    bulk: the node table and the field table are unpacked by one C call
    each, an object's names are indexed the first time it is looked into."""

    __slots__ = ("buf", "count", "nodes", "fields", "items", "items_end", "text", "blobs", "objects")

    def __init__(self, buf):
        if not isinstance(buf, (bytes, bytearray)):
            buf = bytes(buf)
        self.buf = buf
        self.objects = {}
        n = r = f = t = b = 0
        ok = len(buf) >= _HEADER and buf[:4] == _MAGIC
        if ok:
            n, r, f, t, b = _COUNTS.unpack_from(buf, 4)
            ok = _HEADER + n * _NODE + r * 4 + f * _FIELD + t + b == len(buf)
        if not ok:
            # Never from the host; read as an empty value rather than crash.
            n = r = f = t = b = 0
            buf = b""
        at = _HEADER
        self.count = n
        self.nodes = list(_NODE_AT.iter_unpack(buf[at : at + n * _NODE])) if n else []
        at += n * _NODE
        self.items = at
        at += r * 4
        self.items_end = at
        self.fields = _field_table(f).unpack_from(buf, at) if f else ()
        at += f * _FIELD
        self.text = buf[at : at + t]
        self.blobs = buf[at + t : at + t + b]

    def entry(self, index):
        """(kind, len, data) of node `index`; kind 0 (null) when out of range or malformed."""
        if not 0 <= index < self.count:
            return _NULL_ENTRY
        e = self.nodes[index]
        kind = e[0]
        if kind > 7:
            return _NULL_ENTRY
        if (kind == 4 and e[2] + e[1] > len(self.text)) or (kind == 5 and e[2] + e[1] > len(self.blobs)):
            return _NULL_ENTRY
        return e

    def scalar(self, index):
        """The Python value of a scalar node (None for null and containers)."""
        kind, length, data = self.entry(index)
        if kind == 4:
            return self.text[data : data + length].decode("utf-8", "replace")
        if kind == 2:
            return data - (1 << 64) if data >= 1 << 63 else data
        if kind == 1:
            return data != 0
        if kind == 3:
            return _F64.unpack(data.to_bytes(8, "little"))[0]
        if kind == 5:
            return self.blobs[data : data + length]
        return None

    def list_items(self, index):
        kind, length, first = self.entry(index)
        if kind != 6:
            return []
        out = []
        for i in range(length):
            at = self.items + (first + i) * 4
            if at + 4 > self.items_end:
                break
            out.append(_U32.unpack_from(self.buf, at)[0])
        return out

    def raw_fields(self, index):
        """The fields of object `index` as (name bytes, node), in order."""
        kind, length, first = self.entry(index)
        if kind != 7:
            return
        fields, text = self.fields, self.text
        for k in range(first, first + length):
            if 3 * k + 3 > len(fields):
                return
            offset, name_len, node = fields[3 * k : 3 * k + 3]
            if offset + name_len > len(text):
                return
            yield text[offset : offset + name_len], node

    def object_fields(self, index):
        """The fields of object `index` as (name, node), in order."""
        return [(name.decode("utf-8", "replace"), node) for name, node in self.raw_fields(index)]

    def field(self, index, name):
        """The node of the first field of object `index` called `name`, or -1."""
        names = self.objects.get(index)
        if names is None:
            names = {}
            for n, node in self.raw_fields(index):
                names.setdefault(n, node)
            self.objects[index] = names
        want = _ENCODED.get(name)
        if want is None:
            want = name.encode()
            if len(_ENCODED) < 4096:
                _ENCODED[name] = want
        return names.get(want, -1)


_NULL_ENTRY = (0, 0, 0)
#: Field names as UTF-8, encoded once: plugins look up the same few names in every record.
_ENCODED = {}


class Value:
    """A cursor at one node of a packed value."""

    __slots__ = ("packed", "index")

    def __init__(self, packed, index=0):
        self.packed = packed
        self.index = index

    @classmethod
    def root(cls, value):
        """The root of a record's value (`input-record.value`, bytes)."""
        return cls(_Packed(value), 0)

    def get(self, name):
        """The member `name` of an object (the first, if repeated), or None."""
        i = self.packed.field(self.index, name)
        return None if i < 0 else Value(self.packed, i)

    def lookup(self, path):
        """Follows a dotted path of object members (`login.uuid`)."""
        v = self
        for name in path.split("."):
            v = v.get(name)
            if v is None:
                return None
        return v

    def kind(self):
        """The node's kind, as the Rust SDK names it in messages."""
        return _KINDS[self.packed.entry(self.index)[0]]

    def is_null(self):
        return self.packed.entry(self.index)[0] == 0

    def as_str(self):
        """The string, if this is text."""
        return self.packed.scalar(self.index) if self.packed.entry(self.index)[0] == 4 else None

    def as_int(self):
        """The integer, if this is one."""
        return self.packed.scalar(self.index) if self.kind() == "integer" else None

    def as_float(self):
        """The number, if this is a float or an integer."""
        k = self.kind()
        return float(self.packed.scalar(self.index)) if k in ("float", "integer") else None

    def as_bool(self):
        """The boolean, if this is one."""
        return self.packed.scalar(self.index) if self.kind() == "boolean" else None

    def as_bytes(self):
        """The bytes, if this is bytes."""
        return self.packed.scalar(self.index) if self.kind() == "bytes" else None

    def items(self):
        """The items of a list, as Values (empty for anything else)."""
        return [Value(self.packed, i) for i in self.packed.list_items(self.index)]

    def entries(self):
        """The fields of an object as (name, Value) pairs (empty for anything else)."""
        return [(n, Value(self.packed, i)) for n, i in self.packed.object_fields(self.index)]

    def to_text(self):
        """A scalar rendered as text, as Rust's `Display` would: strings as
        they are, integers in decimal, floats in shortest form without an
        exponent, booleans as `true`/`false`. None for anything else."""
        k = self.kind()
        v = self.packed.scalar(self.index)
        if k == "text":
            return v
        if k == "integer":
            return str(v)
        if k == "float":
            return rust_float(v)
        if k == "boolean":
            return "true" if v else "false"
        return None

    def require(self, path):
        """The value at `path`; raises naming the field when missing or null."""
        v = self.lookup(path)
        if v is None:
            raise field_error(path, "is missing")
        if v.is_null():
            raise field_error(path, "is null")
        return v

    def require_str(self, path):
        """The text at `path`; raises naming the field otherwise."""
        v = self.require(path)
        s = v.as_str()
        if s is None:
            raise field_error(path, f"must be text, found {v.kind()}")
        return s

    def require_text(self, path):
        """The scalar at `path` rendered as text (see `to_text`)."""
        v = self.require(path)
        s = v.to_text()
        if s is None:
            raise field_error(path, f"must be text or a number, found {v.kind()}")
        return s


def pack(value):
    """Packs a JSON-like Python value the way the host does (`packed-value`),
    for tests: None, bool, int, float, str, bytes, list and dict."""
    # Breadth-first numbering: a container's children get consecutive indices.
    order = [value]
    first = []
    i = 0
    while i < len(order):
        v = order[i]
        first.append(len(order))
        if isinstance(v, list):
            order.extend(v)
        elif isinstance(v, dict):
            order.extend(v.values())
        i += 1
    text = bytearray()
    blobs = bytearray()
    nodes = bytearray()
    items = bytearray()
    fields = bytearray()
    n_items = n_fields = 0

    def put_text(s):
        b = s.encode()
        text.extend(b)
        return len(text) - len(b), len(b)

    for i, v in enumerate(order):
        if v is None:
            kind, length, data = 0, 0, 0
        elif isinstance(v, bool):
            kind, length, data = 1, 0, int(v)
        elif isinstance(v, int):
            kind, length, data = 2, 0, v & 0xFFFF_FFFF_FFFF_FFFF
        elif isinstance(v, float):
            kind, length, data = 3, 0, int.from_bytes(_F64.pack(v), "little")
        elif isinstance(v, str):
            offset, length = put_text(v)
            kind, data = 4, offset
        elif isinstance(v, (bytes, bytearray)):
            blobs.extend(v)
            kind, length, data = 5, len(v), len(blobs) - len(v)
        elif isinstance(v, list):
            kind, length, data = 6, len(v), n_items
            for k in range(len(v)):
                items.extend(_U32.pack(first[i] + k))
            n_items += len(v)
        else:
            kind, length, data = 7, len(v), n_fields
            for k, name in enumerate(v):
                offset, name_len = put_text(name)
                fields.extend(_FIELD_AT.pack(offset, name_len, first[i] + k))
            n_fields += len(v)
        nodes.extend(_NODE_AT.pack(kind, length, data))
    header = _MAGIC + _COUNTS.pack(len(order), n_items, n_fields, len(text), len(blobs))
    return bytes(header + nodes + items + fields + text + blobs)


def rust_float(f):
    """Formats a float like Rust's `f64` `Display`: `1` for 1.0, never `1e+21`."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    # repr() gives the shortest digits that round-trip, as Rust does.
    mantissa, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    digits = raw.lstrip("0")
    point = len(whole) + int(exp or 0) - (len(raw) - len(digits))
    digits = digits.rstrip("0")
    if point <= 0:
        s = "0." + "0" * -point + digits
    elif point >= len(digits):
        s = digits + "0" * (point - len(digits))
    else:
        s = digits[:point] + "." + digits[point:]
    return ("-" if f < 0 else "") + s


def rust_debug_str(s):
    """Quotes a string like Rust's `{:?}`: in double quotes, with `"`, `\\`,
    tab, CR, LF and NUL escaped and other control characters as `\\u{..}`.
    (Rust also escapes some non-printable Unicode; such input is rare.)"""
    out = ['"']
    for c in s:
        code = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif code == 0:
            out.append("\\0")
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\u{{{code:x}}}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)
