# expect mypy: override
# expect pyright: reportIncompatibleMethodOverride
from __future__ import annotations

from typing import Any

from calculator_capnp import Calculator


class ValueImpl(Calculator.Value.Server):
    async def read(self, **kwargs: Any) -> float:
        return 1.0


class CalculatorImpl(Calculator.Server):
    # `expression` is a Calculator.Expression reader, not a number.
    async def evaluate(self, *, expression: float, **kwargs: Any) -> ValueImpl:
        return ValueImpl()
