"""The calculator server on asyncio: `python async_calculator_server.py HOST:PORT`.

Prints `listening on HOST:PORT` once it accepts connections (port 0 picks a free port).
With `--cert FILE --key FILE` it speaks TLS (Python's `ssl` module under asyncio).
"""

import argparse
import asyncio
import os
import ssl

import capnp

calculator = capnp.load(os.path.join(os.path.dirname(__file__), "calculator.capnp"))


async def read_value(value):
    """The number a Value capability holds."""
    return (await value.read()).value


async def evaluate(expression, params=()):
    """Evaluates an expression; its calls go to Function capabilities (maybe remote)."""
    which = expression.which()
    if which == "literal":
        return expression.literal
    if which == "previousResult":
        return await read_value(expression.previousResult)
    if which == "parameter":
        return params[expression.parameter]
    if which == "call":
        call = expression.call
        args = [await evaluate(p, params) for p in call.params]
        return (await call.function.call(args)).value
    raise ValueError("unknown expression kind %r" % which)


class ValueImpl(calculator.Calculator.Value.Server):
    def __init__(self, value):
        self.value = value

    async def read(self, **kwargs):
        return self.value


class FunctionImpl(calculator.Calculator.Function.Server):
    """A function defined by the client: an expression over parameters."""

    def __init__(self, param_count, body):
        self.param_count = param_count
        self.body = body.as_builder()

    async def call(self, params, _context, **kwargs):
        if len(params) != self.param_count:
            raise ValueError("expected %d parameters, got %d" % (self.param_count, len(params)))
        return await evaluate(self.body, list(params))


class OperatorImpl(calculator.Calculator.Function.Server):
    def __init__(self, op):
        self.op = op

    async def call(self, params, **kwargs):
        if len(params) != 2:
            raise ValueError("operators take two parameters")
        a, b = params
        if self.op == "add":
            return a + b
        if self.op == "subtract":
            return a - b
        if self.op == "multiply":
            return a * b
        if self.op == "divide":
            return a / b
        raise ValueError("unknown operator %r" % self.op)


class CalculatorImpl(calculator.Calculator.Server):
    async def evaluate(self, expression, **kwargs):
        return ValueImpl(await evaluate(expression))

    async def defFunction(self, paramCount, body, **kwargs):
        return FunctionImpl(paramCount, body)

    async def getOperator(self, op, **kwargs):
        return OperatorImpl(str(op))


async def serve(stream):
    await capnp.TwoPartyServer(stream, bootstrap=CalculatorImpl()).on_disconnect()


async def main(address, cert=None, key=None):
    host, _, port = address.rpartition(":")
    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    server = await capnp.AsyncIoStream.create_server(
        serve, host or "127.0.0.1", int(port), ssl=context
    )
    bound = server.sockets[0].getsockname()
    print("listening on %s:%d" % (bound[0], bound[1]), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("address", help="HOST:PORT to listen on")
    parser.add_argument("--cert", help="TLS certificate (PEM)")
    parser.add_argument("--key", help="TLS private key (PEM)")
    args = parser.parse_args()
    asyncio.run(capnp.run(main(args.address, args.cert, args.key)))
