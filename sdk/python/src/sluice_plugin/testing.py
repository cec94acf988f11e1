"""Test helpers: build the input records the host would pass, from JSON-like
Python values. Needs componentize-py's `wit_world` bindings on `sys.path`."""

from wit_world.imports import types


def tree(value):
    """A JSON-like value as a WIT value-tree, the way the host builds it."""
    nodes = []

    def add(v):
        i = len(nodes)
        nodes.append(None)
        if v is None:
            nodes[i] = types.Node_Null()
        elif isinstance(v, bool):
            nodes[i] = types.Node_Boolean(v)
        elif isinstance(v, int):
            nodes[i] = types.Node_Integer(v)
        elif isinstance(v, float):
            nodes[i] = types.Node_Float(v)
        elif isinstance(v, str):
            nodes[i] = types.Node_Text(v)
        elif isinstance(v, list):
            nodes[i] = types.Node_List([add(x) for x in v])
        else:
            nodes[i] = types.Node_Object([types.Field(k, add(x)) for k, x in v.items()])
        return i

    add(value)
    return types.ValueTree(nodes)


def record(value):
    """An input record holding `value`, as the host would pass it."""
    return types.InputRecord(
        topic="test", partition=0, offset=0, timestamp=None, key=None, headers=[], value=tree(value)
    )
