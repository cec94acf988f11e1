"""Test helpers: the input records the host would pass, from JSON-like Python
values. `record` needs componentize-py's `wit_world` bindings on `sys.path`;
`packed` does not."""

from sluice_plugin.value import pack

#: A JSON-like value as a WIT `packed-value`, the way the host packs it.
packed = pack


def record(value):
    """An input record holding `value`, as the host would pass it."""
    from wit_world.imports import types

    return types.InputRecord(
        topic="test", partition=0, offset=0, timestamp=None, key=None, headers=[], value=pack(value)
    )
