"""The {{name}} transform. As generated, it turns a randomuser.me user into a
row of the pipeline's default table (`created_users`) with a few of its
columns; change `row` to make it yours.

`host plugin build` makes a component of this module with componentize-py:
the `WitWorld` class below exports the `transformer` world.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import (
    Cell_Text,
    Cell_Uuid,
    Column,
    InputError as WitInputError,
    Outcome_BadInput,
    Outcome_Rows,
    PluginInfo,
    Row,
    WriteKind,
)

from sluice_plugin.value import InputError, Value

NAME = "{{name}}"
# Keep in step with pyproject.toml's `version`.
VERSION = "0.1.0"


class WitWorld(wit_world.WitWorld):
    def metadata(self):
        return PluginInfo(
            name=NAME,
            version=VERSION,
            description="randomuser.me user -> id, name and email in created_users",
        )

    def init(self, config):
        # Refuse settings this plugin does not know: a typo in
        # [pipeline.plugin-config] then fails the deploy instead of doing nothing.
        for key, _ in config:
            raise Err(f"no setting `{key}`: this plugin takes none")

    def transform(self, batch):
        outcomes = []
        for record in batch:
            try:
                outcomes.append(Outcome_Rows([row(Value.root(record.value))]))
            except InputError as e:
                # A missing or mistyped field never transforms: dead-letter it.
                outcomes.append(Outcome_BadInput(WitInputError(field=e.field, message=e.message)))
        return outcomes


def row(user):
    """The logic, as a plain function of the value so unit tests call it directly."""
    return Row(
        table=None,
        columns=[
            Column("id", Cell_Uuid(user.require_str("login.uuid"))),
            Column("first_name", Cell_Text(user.require_str("name.first"))),
            Column("last_name", Cell_Text(user.require_str("name.last"))),
            Column("email", Cell_Text(user.require_str("email"))),
        ],
        kind=WriteKind.UPSERT,
        ttl_seconds=None,
        write_time_micros=None,
    )
