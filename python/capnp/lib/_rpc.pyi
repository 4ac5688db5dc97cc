# Internal module, typed through capnp.lib.capnp.
from typing import Any

def __getattr__(name: str) -> Any: ...
