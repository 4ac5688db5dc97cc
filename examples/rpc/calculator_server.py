"""The calculator server in pycapnp 1.x's synchronous style: `python calculator_server.py HOST:PORT`.

Plain (non-async) methods; evaluation returns promise chains built with `then` and
`join_promises`. Prints `listening on HOST:PORT` once bound (port 0 picks a free port).
"""

import argparse
import os

import capnp

calculator = capnp.load(os.path.join(os.path.dirname(__file__), "calculator.capnp"))


def read_value(value):
    """A promise of the number a Value capability holds."""
    return value.read().then(lambda result: result.value)


def evaluate(expression, params=()):
    """A promise of the expression's value; calls go to Function capabilities (maybe remote)."""
    which = expression.which()
    if which == "literal":
        return capnp.Promise(expression.literal)
    if which == "previousResult":
        return read_value(expression.previousResult)
    if which == "parameter":
        return capnp.Promise(params[expression.parameter])
    if which == "call":
        call = expression.call
        function = call.function
        args = capnp.join_promises([evaluate(p, params) for p in call.params])
        return args.then(lambda values: function.call(values)).then(lambda r: r.value)
    raise ValueError("unknown expression kind %r" % which)


class ValueImpl(calculator.Calculator.Value.Server):
    def __init__(self, value):
        self.value = value

    def read(self, **kwargs):
        return self.value


class FunctionImpl(calculator.Calculator.Function.Server):
    def __init__(self, param_count, body):
        self.param_count = param_count
        self.body = body.as_builder()

    def call(self, params, _context, **kwargs):
        if len(params) != self.param_count:
            raise ValueError("expected %d parameters, got %d" % (self.param_count, len(params)))

        def store(value):
            _context.results.value = value

        return evaluate(self.body, list(params)).then(store)


class OperatorImpl(calculator.Calculator.Function.Server):
    def __init__(self, op):
        self.op = op

    def call(self, params, **kwargs):
        a, b = params
        return {"add": a + b, "subtract": a - b, "multiply": a * b, "divide": a / b}[self.op]


class CalculatorImpl(calculator.Calculator.Server):
    def evaluate(self, expression, _context, **kwargs):
        def store(value):
            _context.results.value = ValueImpl(value)

        return evaluate(expression).then(store)

    def defFunction(self, paramCount, body, **kwargs):
        return FunctionImpl(paramCount, body)

    def getOperator(self, op, **kwargs):
        return OperatorImpl(str(op))


def main(address):
    server = capnp.TwoPartyServer(address, bootstrap=CalculatorImpl())
    host = address.rpartition(":")[0]
    print("listening on %s:%d" % (host if host not in ("", "*") else "127.0.0.1", server.port), flush=True)
    server.run_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("address", help="HOST:PORT to listen on")
    main(parser.parse_args().address)
