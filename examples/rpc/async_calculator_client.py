"""The calculator client on asyncio: `python async_calculator_client.py HOST:PORT`.

Runs the calculator scenario (literals, pipelining, operators, nested calls, functions defined
by the client, and a callback to a function implemented here) and prints each result.
With `--ca FILE` it connects over TLS, trusting that certificate (name `localhost`).
"""

import argparse
import asyncio
import os
import ssl

import capnp

calculator = capnp.load(os.path.join(os.path.dirname(__file__), "calculator.capnp"))


class PowerFunction(calculator.Calculator.Function.Server):
    """x ** y, served by the client and called back by the server."""

    async def call(self, params, **kwargs):
        return params[0] ** params[1]


async def scenario(calc):
    results = []
    # A literal, the value read in the same round trip (pipelining).
    value = calc.evaluate({"literal": 123}).value
    results.append(("literal", (await value.read()).value))

    # (12 + 3) * (67 - 34), with operators fetched by pipelined calls.
    add = calc.getOperator(op="add").func
    subtract = calc.getOperator(op="subtract").func
    multiply = calc.getOperator(op="multiply").func
    request = calc.evaluate_request()
    call = request.expression.init("call")
    call.function = multiply
    left, right = call.init("params", 2)
    left.init("call").function = add
    lp = left.call.init("params", 2)
    lp[0].literal = 12
    lp[1].literal = 3
    right.init("call").function = subtract
    rp = right.call.init("params", 2)
    rp[0].literal = 67
    rp[1].literal = 34
    results.append(("nested", (await request.send().value.read()).value))

    # A previous result used in a new expression before it is read.
    previous = calc.evaluate({"literal": 4}).value
    request = calc.evaluate_request()
    call = request.expression.init("call")
    call.function = add
    params = call.init("params", 2)
    params[0].previousResult = previous
    params[1].literal = 6
    results.append(("previous", (await request.send().value.read()).value))

    # f(x, y) = x * 100 + y, defined by the client, called as f(12, 34).
    request = calc.defFunction_request()
    request.paramCount = 2
    body = request.body.init("call")
    body.function = add
    bp = body.init("params", 2)
    inner = bp[0].init("call")
    inner.function = multiply
    ip = inner.init("params", 2)
    ip[0].parameter = 0
    ip[1].literal = 100
    bp[1].parameter = 1
    f = request.send().func
    request = calc.evaluate_request()
    call = request.expression.init("call")
    call.function = f
    params = call.init("params", 2)
    params[0].literal = 12
    params[1].literal = 34
    results.append(("function", (await request.send().value.read()).value))

    # A callback: 2 ** (4 + 5), the power function served by this client.
    request = calc.evaluate_request()
    call = request.expression.init("call")
    call.function = PowerFunction()
    params = call.init("params", 2)
    params[0].literal = 2
    inner = params[1].init("call")
    inner.function = add
    ip = inner.init("params", 2)
    ip[0].literal = 4
    ip[1].literal = 5
    results.append(("callback", (await request.send().value.read()).value))
    return results


async def main(address, ca=None):
    host, _, port = address.rpartition(":")
    options = {}
    if ca:
        options["ssl"] = ssl.create_default_context(cafile=ca)
        options["server_hostname"] = "localhost"
    stream = await capnp.AsyncIoStream.create_connection(host or "127.0.0.1", int(port), **options)
    client = capnp.TwoPartyClient(stream)
    calc = client.bootstrap().cast_as(calculator.Calculator)
    for name, value in await scenario(calc):
        print("%s %s" % (name, value))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("address", help="HOST:PORT of the server")
    parser.add_argument("--ca", help="trust this certificate (PEM) and use TLS")
    args = parser.parse_args()
    asyncio.run(capnp.run(main(args.address, args.ca)))
