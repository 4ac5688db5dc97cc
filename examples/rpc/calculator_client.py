"""The calculator client in pycapnp 1.x's synchronous style: `python calculator_client.py HOST:PORT`.

The same scenario as async_calculator_client.py, with `.wait()`; the callback (a power
function served by this client) is called back while the client waits.
"""

import argparse
import os

import capnp

calculator = capnp.load(os.path.join(os.path.dirname(__file__), "calculator.capnp"))


class PowerFunction(calculator.Calculator.Function.Server):
    def call(self, params, **kwargs):
        return params[0] ** params[1]


def scenario(calc):
    results = []
    value = calc.evaluate({"literal": 123}).value
    results.append(("literal", value.read().wait().value))

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
    results.append(("nested", request.send().value.read().wait().value))

    previous = calc.evaluate({"literal": 4}).value
    request = calc.evaluate_request()
    call = request.expression.init("call")
    call.function = add
    params = call.init("params", 2)
    params[0].previousResult = previous
    params[1].literal = 6
    results.append(("previous", request.send().value.read().wait().value))

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
    results.append(("function", request.send().value.read().wait().value))

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
    results.append(("callback", request.send().value.read().wait().value))
    return results


def main(address):
    client = capnp.TwoPartyClient(address)
    calc = client.bootstrap().cast_as(calculator.Calculator)
    for name, value in scenario(calc):
        print("%s %s" % (name, value))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("address", help="HOST:PORT of the server")
    main(parser.parse_args().address)
