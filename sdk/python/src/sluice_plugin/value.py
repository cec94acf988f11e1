"""Path-based access to a decoded record value: the Python twin of the Rust
SDK's `sluice_plugin::value`.

The host hands a value over as the WIT `value-tree`: a flat list of nodes,
root at index 0, containers pointing at their children by index. In
componentize-py's bindings a node is one of the `Node_*` dataclasses of
`wit_world.imports.types`, its payload in `.value`.

Lookups that fail raise `InputError` naming the dotted path, with the same
wording the Rust SDK uses, so all languages dead-letter alike.
"""

import math

from wit_world.imports.types import (
    Node_Boolean,
    Node_Bytes,
    Node_Float,
    Node_Integer,
    Node_List,
    Node_Null,
    Node_Object,
    Node_Text,
)

_NULL = Node_Null()
_KINDS = {
    Node_Null: "null",
    Node_Boolean: "boolean",
    Node_Integer: "integer",
    Node_Float: "float",
    Node_Text: "text",
    Node_Bytes: "bytes",
    Node_List: "list",
    Node_Object: "object",
}


class InputError(Exception):
    """Why a record cannot be transformed; becomes a `bad-input` outcome."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def field_error(path, what):
    """An input error blaming `path`: "field `path` is missing"."""
    return InputError(path, f"field `{path}` {what}")


class Value:
    """A cursor at one node of a value tree."""

    __slots__ = ("nodes", "index")

    def __init__(self, nodes, index=0):
        self.nodes = nodes
        self.index = index

    @classmethod
    def root(cls, tree):
        """The root of a tree (`value-tree.nodes[0]`)."""
        return cls(tree.nodes, 0)

    def node(self):
        """The node under the cursor; a dangling index reads as null."""
        return self.nodes[self.index] if self.index < len(self.nodes) else _NULL

    def get(self, name):
        """The member `name` of an object (the first, if repeated), or None."""
        n = self.node()
        if isinstance(n, Node_Object):
            for f in n.value:
                if f.name == name:
                    return Value(self.nodes, f.node)
        return None

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
        return _KINDS[type(self.node())]

    def as_str(self):
        """The string, if this is text."""
        n = self.node()
        return n.value if isinstance(n, Node_Text) else None

    def to_text(self):
        """A scalar rendered as text, as Rust's `Display` would: strings as
        they are, integers in decimal, floats in shortest form without an
        exponent, booleans as `true`/`false`. None for anything else."""
        n = self.node()
        if isinstance(n, Node_Text):
            return n.value
        if isinstance(n, Node_Integer):
            return str(n.value)
        if isinstance(n, Node_Float):
            return rust_float(n.value)
        if isinstance(n, Node_Boolean):
            return "true" if n.value else "false"
        return None

    def require(self, path):
        """The value at `path`; raises naming the field when missing or null."""
        v = self.lookup(path)
        if v is None:
            raise field_error(path, "is missing")
        if isinstance(v.node(), Node_Null):
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
