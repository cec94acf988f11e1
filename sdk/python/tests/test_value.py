"""Native checks of the SDK's packed-value reader and writer (no bindings):

    python3 -m unittest discover -s sdk/python/tests

host/tests/polyglot.rs runs flatten-py on values packed by the host.
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from sluice_plugin.value import InputError, Value, pack  # noqa: E402


class Layout(unittest.TestCase):
    def test_the_layout_is_the_documented_one_byte_for_byte(self):
        # {"a": 7}: two nodes (object, integer), one field, text "a".
        b = pack({"a": 7})
        self.assertEqual(b[:4], b"SLV1")
        self.assertEqual(struct.unpack_from("<5I", b, 4), (2, 0, 1, 1, 0))
        self.assertEqual(len(b), 24 + 2 * 16 + 12 + 1)
        self.assertEqual(struct.unpack_from("<B3xIQ", b, 24), (7, 1, 0))
        self.assertEqual(struct.unpack_from("<B3xIQ", b, 40), (2, 0, 7))
        self.assertEqual(struct.unpack_from("<3I", b, 56), (0, 1, 1))
        self.assertEqual(b[68:], b"a")


class Reading(unittest.TestCase):
    def test_paths_kinds_and_scalars_read_back(self):
        v = Value.root(pack({"name": {"first": "Zoë"}, "n": -4821, "f": 1.5, "yes": True, "none": None,
                             "tags": ["a", "b"], "raw": b"\x01\x02"}))
        self.assertEqual(v.require_str("name.first"), "Zoë")
        self.assertEqual(v.lookup("n").as_int(), -4821)
        self.assertEqual(v.require_text("n"), "-4821")
        self.assertEqual(v.require_text("f"), "1.5")
        self.assertEqual(v.require_text("yes"), "true")
        self.assertEqual(v.lookup("none").kind(), "null")
        self.assertEqual([x.as_str() for x in v.lookup("tags").items()], ["a", "b"])
        self.assertEqual(v.lookup("raw").as_bytes(), b"\x01\x02")
        self.assertEqual([k for k, _ in v.entries()], ["name", "n", "f", "yes", "none", "tags", "raw"])
        self.assertIsNone(v.lookup("name.last"))

    def test_errors_name_the_field_as_the_rust_sdk_does(self):
        v = Value.root(pack({"login": {"uuid": None}, "age": 3}))
        for path, message in [("email", "field `email` is missing"), ("login.uuid", "field `login.uuid` is null")]:
            with self.assertRaises(InputError) as e:
                v.require(path)
            self.assertEqual((e.exception.field, e.exception.message), (path, message))
        with self.assertRaises(InputError) as e:
            v.require_str("age")
        self.assertEqual(e.exception.message, "field `age` must be text, found integer")

    def test_a_buffer_that_is_not_a_packed_value_reads_as_null(self):
        for bad in [b"", bytes(30), pack({"a": 1})[:40]]:
            v = Value.root(bad)
            self.assertEqual(v.kind(), "null")
            self.assertIsNone(v.lookup("a"))
        b = bytearray(pack({"a": "x"}))
        struct.pack_into("<Q", b, 40 + 8, 999)  # node 1's text offset, past the text
        self.assertEqual(Value.root(bytes(b)).lookup("a").kind(), "null")


if __name__ == "__main__":
    unittest.main()
