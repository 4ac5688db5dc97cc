"""The three classic Cap'n Proto benchmark workloads (carsales, catrank, eval) in object mode:
the client builds a request and serializes it, the server parses it and builds and serializes
a response, the client parses the response. Each runs unpacked and packed.

Inputs come from a seeded random.Random as plain Python values; the expected answers are
computed from those values without capnp. One timed operation is one request/response round
trip; successive operations cycle through a pool of inputs. The check runs the whole pool."""

import contextlib
import functools
import random

from . import Benchmark, schema


def parse(module, data, packed):
    if packed:
        return contextlib.nullcontext(module.from_bytes_packed(data))
    return module.from_bytes(data)


def serialize(builder, packed):
    return builder.to_bytes_packed() if packed else builder.to_bytes()


class RoundTrips:
    """Cycles through a pool of inputs; each call is one round trip."""

    def __init__(self, inputs, round_trip, packed):
        self.inputs = inputs
        self.round_trip = round_trip
        self.packed = packed
        self.next = 0

    def __call__(self):
        value = self.inputs[self.next]
        self.next = (self.next + 1) % len(self.inputs)
        return self.round_trip(value, self.packed)

    def all(self):
        return [self.round_trip(value, self.packed) for value in self.inputs]


# --- carsales: the total value of a parking lot --------------------------------------------

BRANDS = ["Toyota", "GM", "Ford", "Honda", "Tesla", "Volvo", "Fiat", "Skoda", "Kia"]
MODELS = ["Camry", "Prius", "Volt", "Accord", "Leaf", "Model S", "Panda", "Octavia", "Rio"]
PAINTS = ["black", "white", "red", "green", "blue", "silver", "orange"]


def random_car(rng):
    return {
        "brand": rng.choice(BRANDS),
        "model": rng.choice(MODELS),
        "paint": rng.choice(PAINTS),
        "seats": rng.randrange(2, 10),
        "doors": rng.randrange(2, 6),
        "tires": [{"rimInches": rng.randrange(14, 22),
                   "pressure": float(rng.randrange(60, 80)) / 2,
                   "winter": rng.random() < 0.5} for _ in range(4)],
        "length": rng.randrange(170, 500),
        "width": rng.randrange(60, 120),
        "height": rng.randrange(50, 100),
        "mass": rng.randrange(2000, 5000),
        "motor": {"power": rng.randrange(100, 500), "cylinders": rng.randrange(4, 13),
                  "displacement": rng.randrange(800, 10000), "petrol": rng.random() < 0.5,
                  "battery": rng.random() < 0.5},
        "tankLiters": float(rng.randrange(40, 120)),
        "tankLevel": rng.randrange(0, 65) / 64,
        "powerWindows": rng.random() < 0.5,
        "powerSteering": rng.random() < 0.5,
        "cruiseControl": rng.random() < 0.5,
        "cupHolders": rng.randrange(0, 12),
        "navigation": rng.random() < 0.5,
    }


def car_value(car):
    """The value rule, over the plain-Python car: the expected answer."""
    value = car["seats"] * 200 + car["doors"] * 350
    for tire in car["tires"]:
        value += tire["rimInches"] ** 2 + (100 if tire["winter"] else 0)
    value += car["length"] * car["width"] * car["height"] // 50
    motor = car["motor"]
    value += motor["power"] * 40
    if motor["battery"]:
        value += 5000 if motor["petrol"] else 3000
    value += 100 if car["powerWindows"] else 0
    value += 200 if car["powerSteering"] else 0
    value += 400 if car["cruiseControl"] else 0
    value += 2000 if car["navigation"] else 0
    value += car["cupHolders"] * 25
    return value


def reader_car_value(car):
    """The same rule over a Car reader: the server's computation."""
    value = car.seats * 200 + car.doors * 350
    for tire in car.tires:
        value += tire.rimInches ** 2 + (100 if tire.winter else 0)
    value += car.length * car.width * car.height // 50
    motor = car.motor
    value += motor.power * 40
    if motor.battery:
        value += 5000 if motor.petrol else 3000
    value += 100 if car.powerWindows else 0
    value += 200 if car.powerSteering else 0
    value += 400 if car.cruiseControl else 0
    value += 2000 if car.navigation else 0
    value += car.cupHolders * 25
    return value


def carsales_round_trip(lot, packed):
    cs = schema("carsales.capnp")
    # Client: the request, field by field.
    request = cs.ParkingLot.new_message()
    cars = request.init("cars", len(lot))
    for car, spec in zip(cars, lot):
        car.brand = spec["brand"]
        car.model = spec["model"]
        car.paint = spec["paint"]
        car.seats = spec["seats"]
        car.doors = spec["doors"]
        tires = car.init("tires", len(spec["tires"]))
        for tire, tire_spec in zip(tires, spec["tires"]):
            tire.rimInches = tire_spec["rimInches"]
            tire.pressure = tire_spec["pressure"]
            tire.winter = tire_spec["winter"]
        car.length = spec["length"]
        car.width = spec["width"]
        car.height = spec["height"]
        car.mass = spec["mass"]
        motor, motor_spec = car.motor, spec["motor"]
        motor.power = motor_spec["power"]
        motor.cylinders = motor_spec["cylinders"]
        motor.displacement = motor_spec["displacement"]
        motor.petrol = motor_spec["petrol"]
        motor.battery = motor_spec["battery"]
        car.tankLiters = spec["tankLiters"]
        car.tankLevel = spec["tankLevel"]
        car.powerWindows = spec["powerWindows"]
        car.powerSteering = spec["powerSteering"]
        car.cruiseControl = spec["cruiseControl"]
        car.cupHolders = spec["cupHolders"]
        car.navigation = spec["navigation"]
    wire = serialize(request, packed)
    # Server.
    with parse(cs.ParkingLot, wire, packed) as lot_reader:
        total = sum(reader_car_value(car) for car in lot_reader.cars)
    response = cs.LotValue.new_message(total=total)
    wire = serialize(response, packed)
    # Client.
    with parse(cs.LotValue, wire, packed) as value:
        return value.total


@functools.lru_cache(maxsize=None)
def carsales_inputs(quick):
    rng = random.Random(1)
    lots = 3 if quick else 16
    most = 10 if quick else 200
    return [[random_car(rng) for _ in range(rng.randrange(1, most))] for _ in range(lots)]


# --- catrank: rescore search hits by their snippets ----------------------------------------

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "bird", "fish", "tree",
         "house", "river", "stone", "cloud", "paper", "music", "light", "green", "small"]


def random_hit(rng, index):
    words = [rng.choice(WORDS) for _ in range(rng.randrange(8, 40))]
    # About a third of the snippets mention cats, a third dogs (some both).
    if rng.random() < 0.35:
        words.insert(rng.randrange(len(words) + 1), "cat")
    if rng.random() < 0.35:
        words.insert(rng.randrange(len(words) + 1), "dog")
    return {"url": "http://example.com/%d/%s" % (index, rng.choice(WORDS)),
            "score": rng.randrange(1, 10000) / 100.0,
            "snippet": " " + " ".join(words) + " "}


def rescore(score, snippet):
    if " cat " in snippet:
        score *= 10000.0
    if " dog " in snippet:
        score /= 10000.0
    return score


def ranking_summary(ranked):
    """What the client reports: (url, score) of the ranked hits, as a checksum-like list."""
    return [len(ranked)] + [[url, score] for url, score in ranked[:5]] + [
        sum(score for _, score in ranked)]


def expected_ranking(hits):
    rescored = [(rescore(h["score"], h["snippet"]), i, h["url"]) for i, h in enumerate(hits)]
    rescored.sort(key=lambda t: (-t[0], t[1]))
    return ranking_summary([(url, score) for score, _, url in rescored])


def catrank_round_trip(hits, packed):
    cr = schema("catrank.capnp")
    request = cr.HitList.new_message()
    out = request.init("hits", len(hits))
    for hit, spec in zip(out, hits):
        hit.url = spec["url"]
        hit.score = spec["score"]
        hit.snippet = spec["snippet"]
    wire = serialize(request, packed)
    # Server: rescore, sort best first (stable on the request's order), answer.
    with parse(cr.HitList, wire, packed) as request_reader:
        rescored = []
        for i, hit in enumerate(request_reader.hits):
            rescored.append((rescore(hit.score, hit.snippet), i, hit))
        rescored.sort(key=lambda t: (-t[0], t[1]))
        response = cr.HitList.new_message()
        ranked = response.init("hits", len(rescored))
        for target, (score, _, hit) in zip(ranked, rescored):
            target.url = hit.url
            target.score = score
            target.snippet = hit.snippet
        wire = serialize(response, packed)
    with parse(cr.HitList, wire, packed) as response_reader:
        return ranking_summary([(hit.url, hit.score) for hit in response_reader.hits])


@functools.lru_cache(maxsize=None)
def catrank_inputs(quick):
    rng = random.Random(2)
    lists = 3 if quick else 16
    most = 20 if quick else 500
    return [[random_hit(rng, i) for i in range(rng.randrange(1, most))] for _ in range(lists)]


# --- eval: evaluate an expression tree ------------------------------------------------------

OPS = ["add", "sub", "mul", "div", "mod"]


def wrap32(value):
    return (value + 2 ** 31) % 2 ** 32 - 2 ** 31


def apply(op, left, right):
    """Int32 arithmetic as C does it: wrapping, division and remainder truncating toward
    zero; dividing by zero gives 0 (a rule of this benchmark)."""
    if op == "add":
        return wrap32(left + right)
    if op == "sub":
        return wrap32(left - right)
    if op == "mul":
        return wrap32(left * right)
    if right == 0:
        return 0
    quotient = abs(left) // abs(right)
    if (left < 0) != (right < 0):
        quotient = -quotient
    if op == "div":
        return wrap32(quotient)
    return wrap32(left - quotient * right)


def random_expr(rng, depth):
    """A tree as nested tuples (op, left, right); leaves are ints."""
    def side():
        if depth > 0 and rng.random() < 0.7:
            return random_expr(rng, depth - 1)
        return rng.randrange(-128, 128)
    return (rng.choice(OPS), side(), side())


def evaluate(expr):
    if isinstance(expr, int):
        return expr
    op, left, right = expr
    return apply(op, evaluate(left), evaluate(right))


def write_expr(builder, expr):
    op, left, right = expr
    builder.op = op
    if isinstance(left, int):
        builder.left.leftValue = left
    else:
        write_expr(builder.left.init("leftExpr"), left)
    if isinstance(right, int):
        builder.right.rightValue = right
    else:
        write_expr(builder.right.init("rightExpr"), right)


def read_expr(reader):
    left = reader.left
    if left.which() == "leftValue":
        a = left.leftValue
    else:
        a = read_expr(left.leftExpr)
    right = reader.right
    if right.which() == "rightValue":
        b = right.rightValue
    else:
        b = read_expr(right.rightExpr)
    return apply(str(reader.op), a, b)


def eval_round_trip(expr, packed):
    ev = schema("eval.capnp")
    request = ev.Expr.new_message()
    write_expr(request, expr)
    wire = serialize(request, packed)
    with parse(ev.Expr, wire, packed) as request_reader:
        response = ev.Result.new_message(value=read_expr(request_reader))
    wire = serialize(response, packed)
    with parse(ev.Result, wire, packed) as result:
        return result.value


@functools.lru_cache(maxsize=None)
def eval_inputs(quick):
    rng = random.Random(3)
    return [random_expr(rng, 3 if quick else 8) for _ in range(4 if quick else 32)]


WORKLOADS = {
    "carsales": (carsales_inputs, carsales_round_trip,
                 lambda lot: sum(car_value(car) for car in lot)),
    "catrank": (catrank_inputs, catrank_round_trip, expected_ranking),
    "eval": (eval_inputs, eval_round_trip, evaluate),
}


def _ns_maker(inputs, round_trip, packed):
    def setup(quick):
        return {"run": RoundTrips(inputs(quick), round_trip, packed)}
    return setup


def _expected_maker(inputs, answer):
    return lambda quick: [answer(value) for value in inputs(quick)]


for _name, (_inputs, _round_trip, _answer) in WORKLOADS.items():
    for _packed in (False, True):
        Benchmark("classic.%s.%s" % (_name, "packed" if _packed else "unpacked"),
                  _ns_maker(_inputs, _round_trip, _packed), "run()",
                  check=lambda ns: ns["run"].all(), expected=_expected_maker(_inputs, _answer),
                  target="classic",
                  doc="%s, object mode, %s" % (_name, "packed" if _packed else "unpacked"))
