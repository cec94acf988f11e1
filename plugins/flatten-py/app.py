"""The flatten transform in Python: one randomuser.me user becomes one row of
`created_users`, exactly as the Rust plugin (plugins/flatten) does it: the
same 12 columns, the same errors naming the field, postcodes as text, dates as
milliseconds since the epoch, and `id` = `login.uuid` lower-cased.

Built into a component by componentize-py against the `transformer` world of
the Python SDK (sdk/python, sluice:transform@0.2.0; `just build-plugins`),
reading values with the SDK's `Value`. Plugin config:
- `version-column`: if set, the named text column receives this plugin's
  version.
"""

import re

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import (
    Cell_Text,
    Cell_Timestamp,
    Cell_Uuid,
    Column,
    InputError as WitInputError,
    Outcome_BadInput,
    Outcome_Rows,
    PluginInfo,
    Row,
    WriteKind,
)

from sluice_plugin.value import InputError, Value, field_error, rust_debug_str

NAME = "flatten-py"
# Keep in step with pyproject.toml's `version`.
VERSION = "0.1.0"

# Set by `init`; the host makes a fresh instance for every call.
_version_column = None


class WitWorld(wit_world.WitWorld):
    def metadata(self):
        return PluginInfo(
            name=NAME,
            version=VERSION,
            description="randomuser.me user -> one created_users row (Python)",
        )

    def init(self, config):
        global _version_column
        column = None
        for key, value in config:
            if key != "version-column":
                raise Err(f"{NAME} has no setting `{key}`; it knows only `version-column`")
            if value == "":
                raise Err("plugin-config `version-column` is empty: name a text column or remove the setting")
            column = value
        _version_column = column

    def transform(self, batch):
        outcomes = []
        for record in batch:
            try:
                outcomes.append(Outcome_Rows([flatten(Value.root(record.value), _version_column)]))
            except InputError as e:
                outcomes.append(Outcome_BadInput(WitInputError(field=e.field, message=e.message)))
            # Anything else is a bug: it traps, and the host isolates the record.
        return outcomes


def flatten(user, version_column=None):
    """The reshaping itself: a user `Value` to a WIT `Row`; raises `InputError`."""
    # Evaluated in the Rust plugin's order, so the first bad field reported is the same.
    address = "{} {}, {}, {}, {}".format(
        user.require_text("location.street.number"),
        user.require_str("location.street.name"),
        user.require_str("location.city"),
        user.require_text("location.state"),
        user.require_str("location.country"),
    )
    columns = [
        Column("id", Cell_Uuid(_uuid(user, "login.uuid"))),
        Column("first_name", Cell_Text(user.require_str("name.first"))),
        Column("last_name", Cell_Text(user.require_str("name.last"))),
        Column("gender", Cell_Text(user.require_str("gender"))),
        Column("address", Cell_Text(address)),
        Column("post_code", Cell_Text(user.require_text("location.postcode"))),
        Column("email", Cell_Text(user.require_str("email"))),
        Column("username", Cell_Text(user.require_str("login.username"))),
        Column("dob", Cell_Timestamp(_timestamp(user, "dob.date"))),
        Column("registered_date", Cell_Timestamp(_timestamp(user, "registered.date"))),
        Column("phone", Cell_Text(user.require_str("phone"))),
        Column("picture", Cell_Text(user.require_str("picture.medium"))),
    ]
    if version_column is not None:
        columns.append(Column(version_column, Cell_Text(VERSION)))
    return Row(table=None, columns=columns, kind=WriteKind.UPSERT, ttl_seconds=None, write_time_micros=None)


def _timestamp(user, path):
    text = user.require_str(path)
    ms = parse_rfc3339_millis(text)
    if ms is None:
        raise field_error(path, f"is not an RFC 3339 timestamp: {rust_debug_str(text)}")
    return ms


_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _uuid(user, path):
    text = user.require_str(path)
    if not _UUID.fullmatch(text):
        raise field_error(path, f"is not a UUID: {rust_debug_str(text)}")
    return text.lower()


_DIGITS = re.compile(r"[0-9]+")
# Rust's i64 parse: an optional sign, then ASCII digits.
_RUST_INT = re.compile(r"[+-]?[0-9]+")


def parse_rfc3339_millis(s):
    """`YYYY-MM-DDTHH:MM:SS[.fff...](Z|±HH:MM)` to milliseconds since the
    epoch, or None; a port of the Rust SDK's `parse_rfc3339_millis`, quirks
    included (any day 1-31 in any month, second 60, fractions truncated)."""
    if len(s) < 20:
        return None
    if s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":" or s[16] != ":":
        return None
    parts = []
    for start, end in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)):
        part = s[start:end]
        if not _DIGITS.fullmatch(part):
            return None
        parts.append(int(part))
    year, month, day, hour, minute, second = parts
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    rest = s[19:]
    millis = 0
    if rest.startswith("."):
        frac = rest[1:]
        digits = len(frac) - len(frac.lstrip("0123456789"))
        if digits == 0:
            return None
        millis = int((frac[:digits] + "000")[:3])
        rest = frac[digits:]
    if rest in ("Z", "z"):
        offset_minutes = 0
    elif len(rest) == 6 and rest.isascii() and rest[0] in "+-" and rest[3] == ":":
        h, m = rest[1:3], rest[4:6]
        if not (_RUST_INT.fullmatch(h) and _RUST_INT.fullmatch(m)):
            return None
        offset_minutes = (-1 if rest[0] == "-" else 1) * (int(h) * 60 + int(m))
    else:
        return None
    days = days_from_civil(year, month, day)
    secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60
    return secs * 1_000 + millis


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
    algorithm; Rust's truncating division where it matters)."""
    y = year - 1 if month <= 2 else year
    era = int((y if y >= 0 else y - 399) / 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468
