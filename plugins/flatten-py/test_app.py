"""Native checks of app.py, without Wasm: componentize-py's bindings are
generated into a temporary folder, then the plugin is called as the host
would call it. Run with the venv that scripts/build-plugins.sh installs:

    ~/.cache/sluice/tools/componentize-py-0.25.1/bin/python -m unittest discover -s plugins/flatten-py

The cross-language comparison with the Rust plugin is host/tests/polyglot.rs.
"""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
_bindings = tempfile.TemporaryDirectory()


def setUpModule():
    componentize_py = os.path.join(os.path.dirname(sys.executable), "componentize-py")
    # The Python SDK's world (sluice:transform@0.2.0) and modules, from this checkout.
    sdk = os.path.join(HERE, "..", "..", "sdk", "python", "src")
    wit = os.path.join(sdk, "sluice_plugin", "wit")
    subprocess.run(
        [componentize_py, "-d", wit, "-w", "transformer", "bindings", _bindings.name],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sys.path[:0] = [_bindings.name, HERE, sdk]
    global app, types, Err, tree
    import app
    from componentize_py_types import Err
    from wit_world.imports import types
    from sluice_plugin.value import pack as tree


def tearDownModule():
    _bindings.cleanup()


def user():
    return {
        "gender": "female",
        "name": {"title": "Mme", "first": "Zoë", "last": "Lefèvre"},
        "location": {
            "street": {"number": 4821, "name": "Rue de l'Abbé-Grégoire"},
            "city": "Besançon", "state": "Doubs", "country": "France", "postcode": 25000,
        },
        "email": "zoe.lefevre@example.com",
        "login": {"uuid": "8F0B1C5E-3A43-4D9B-9C5E-0E2B6B1F7A10", "username": "bluecat511"},
        "dob": {"date": "1993-07-20T09:44:18.674Z", "age": 31},
        "registered": {"date": "2015-02-03T04:05:06.007Z", "age": 9},
        "phone": "03-12-34-56-78",
        "picture": {"medium": "https://randomuser.me/api/portraits/med/women/1.jpg"},
    }


def run(u, config=()):
    world = app.WitWorld()
    world.init(list(config))
    record = types.InputRecord("t", 0, 0, None, None, [], tree(u))
    return world.transform([record])[0]


def columns(u, config=()):
    outcome = run(u, config)
    assert isinstance(outcome, types.Outcome_Rows), outcome
    (row,) = outcome.value
    assert row.table is None
    return {c.name: c.value for c in row.columns}


class Flatten(unittest.TestCase):
    def test_every_column(self):
        c = columns(user())
        self.assertEqual(len(c), 12)
        self.assertEqual(c["id"], types.Cell_Uuid("8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10"))
        self.assertEqual(c["address"].value, "4821 Rue de l'Abbé-Grégoire, Besançon, Doubs, France")
        self.assertEqual(c["post_code"], types.Cell_Text("25000"))
        self.assertEqual(c["dob"], types.Cell_Timestamp(743_161_458_674))
        self.assertEqual(c["registered_date"], types.Cell_Timestamp(1_422_936_306_007))

    def test_postcodes_render_like_rust(self):
        for postcode, want in [("SW1A 1AA", "SW1A 1AA"), (1.5, "1.5"), (3.0, "3"), (1e21, "1000000000000000000000"),
                               (1e-7, "0.0000001"), (-0.0, "-0"), (True, "true")]:
            u = user()
            u["location"]["postcode"] = postcode
            self.assertEqual(columns(u)["post_code"].value, want)

    def test_dates_parse_like_the_rust_sdk(self):
        for date, want in [("1970-01-01T00:00:00Z", 0), ("2000-02-29T12:00:00.5+01:00", 951_822_000_500),
                           ("1960-01-01T00:00:00Z", -315_619_200_000)]:
            u = user()
            u["dob"]["date"] = date
            self.assertEqual(columns(u)["dob"].value, want)

    def test_bad_fields_are_named(self):
        cases = [
            (lambda u: u.pop("email"), "email", "field `email` is missing"),
            (lambda u: u["login"].update(uuid=None), "login.uuid", "field `login.uuid` is null"),
            (lambda u: u["login"].update(uuid="not-a-uuid"), "login.uuid", 'field `login.uuid` is not a UUID: "not-a-uuid"'),
            (lambda u: u["name"].update(first=42), "name.first", "field `name.first` must be text, found integer"),
            (lambda u: u["dob"].update(date="yesterday"), "dob.date",
             'field `dob.date` is not an RFC 3339 timestamp: "yesterday"'),
            (lambda u: u["location"].update(postcode={"a": 1}), "location.postcode",
             "field `location.postcode` must be text or a number, found object"),
        ]
        for change, field, message in cases:
            u = user()
            change(u)
            self.assertEqual(run(u), types.Outcome_BadInput(types.InputError(field, message)))

    def test_config_is_checked(self):
        with self.assertRaises(Err) as refused:
            app.WitWorld().init([("colour", "red")])
        self.assertIn("colour", refused.exception.value)
        with self.assertRaises(Err):
            app.WitWorld().init([("version-column", "")])
        c = columns(user(), [("version-column", "written_by")])
        self.assertEqual(c["written_by"], types.Cell_Text(app.VERSION))


if __name__ == "__main__":
    unittest.main()
