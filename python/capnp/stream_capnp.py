"""`capnp.stream_capnp`: the bundled `/capnp/stream.capnp` as a loaded schema module."""

import sys

from capnp.lib.capnp import _bundled_module

# The schema module takes this module's place, as pycapnp's import hook would give it.
sys.modules[__name__] = _bundled_module("capnp/stream.capnp", __name__)
