"""The Python SDK for Sluice transforms.

`sluice_plugin.value` reads a record's decoded value by dotted path; its
errors name the field. `WIT_DIR` is the WIT world this SDK builds against
(`host plugin build` passes it to componentize-py). The value helpers import
componentize-py's `wit_world` bindings, so import them from a plugin (or a
test that generated the bindings), not at install time.
"""

import os

__version__ = "0.2.0"

#: The folder of the `sluice:transform` WIT package this SDK targets.
WIT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wit")
