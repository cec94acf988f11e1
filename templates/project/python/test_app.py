"""Native unit tests of the {{name}} logic, without Wasm. componentize-py's
bindings are generated into a temporary folder first. Run them with the
environment `host plugin build` prepares:

    build/venv/bin/python -m unittest
"""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
_bindings = tempfile.TemporaryDirectory()


def setUpModule():
    import sluice_plugin

    componentize_py = os.path.join(os.path.dirname(sys.executable), "componentize-py")
    subprocess.run(
        [componentize_py, "-d", sluice_plugin.WIT_DIR, "-w", "transformer", "bindings", _bindings.name],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sys.path[:0] = [_bindings.name, HERE]
    global app, testing, types, Err
    import app
    from componentize_py_types import Err
    from sluice_plugin import testing
    from wit_world.imports import types


def tearDownModule():
    _bindings.cleanup()


ID = "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10"


def user():
    """A user as the host hands it over, reduced to what the transform reads."""
    return {
        "name": {"title": "Mme", "first": "Zoë", "last": "Lefèvre"},
        "email": "zoe.lefevre@example.com",
        "login": {"uuid": ID, "username": "bluecat511"},
        "nat": "FR",
    }


class TransformTest(unittest.TestCase):
    def test_a_user_becomes_one_row(self):
        plugin = app.WitWorld()
        plugin.init([])
        [outcome] = plugin.transform([testing.record(user())])
        self.assertIsInstance(outcome, types.Outcome_Rows)
        [row] = outcome.value
        self.assertIsNone(row.table, "the default table")
        self.assertEqual([c.name for c in row.columns], ["id", "first_name", "last_name", "email"])
        self.assertEqual(row.columns[0].value, types.Cell_Uuid(ID))

    def test_a_missing_field_is_bad_input_naming_it(self):
        u = user()
        del u["email"]
        [outcome] = app.WitWorld().transform([testing.record(u)])
        self.assertIsInstance(outcome, types.Outcome_BadInput)
        self.assertEqual(outcome.value.field, "email")

    def test_unknown_settings_are_refused(self):
        with self.assertRaises(Err) as e:
            app.WitWorld().init([("colour", "red")])
        self.assertIn("colour", str(e.exception.value))


if __name__ == "__main__":
    unittest.main()
