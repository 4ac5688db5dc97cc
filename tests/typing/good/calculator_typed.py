"""A typed calculator server and client (asyncio API).

Server methods take their parameters keyword-only, as the package passes them: pyright
rejects a positional parameter overriding a keyword-only one (mypy accepts both).
"""

from __future__ import annotations

import asyncio
from typing import Any

import capnp
from calculator_capnp import Calculator


class ValueImpl(Calculator.Value.Server):
    def __init__(self, value: float) -> None:
        self.value = value

    async def read(self, **kwargs: Any) -> float:
        return self.value


class AddImpl(Calculator.Function.Server):
    def call(self, *, params: capnp._DynamicListReader[float], **kwargs: Any) -> float:
        return sum(params)


class CalculatorImpl(Calculator.Server):
    async def evaluate(self, *, expression: Calculator.Expression.Reader, **kwargs: Any) -> ValueImpl:
        which = expression.which()
        if which == "literal":
            return ValueImpl(expression.literal)
        raise ValueError("only literals, got %s" % which)

    def defFunction(self, *, paramCount: int, body: Calculator.Expression.Reader, **kwargs: Any) -> None:
        raise NotImplementedError

    def getOperator(self, *, op: str, **kwargs: Any) -> AddImpl:
        return AddImpl()


async def use(calc: Calculator.Client) -> float:
    value = calc.evaluate({"literal": 2.5}).value
    first: float = (await value.read()).value
    add = calc.getOperator(op="add").func
    total = await add.call([first, 1.0])
    request = calc.evaluate_request()
    request.expression.literal = total.value
    response = await request.send()
    return (await response.value.read()).value


async def main() -> None:
    client_end, server_end = __import__("socket").socketpair()
    async with capnp.kj_loop():
        server_stream = await capnp.AsyncIoStream.create_connection(sock=server_end)
        server = capnp.TwoPartyServer(server_stream, bootstrap=CalculatorImpl())
        client_stream = await capnp.AsyncIoStream.create_connection(sock=client_end)
        client = capnp.TwoPartyClient(client_stream)
        calc = client.bootstrap().cast_as(Calculator)
        print(await use(calc))
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
