"""Calls over a socket pair in one process: arguments, results, pipelining, capabilities,
inheritance, casts, and the synchronous errors of the client API (API.md 5.2.4-5.2.9)."""

import asyncio
import importlib.util

import pytest

import capnp

from rpc_support import calculator, rpc  # noqa: F401  (fixtures)
from rpc_support import EXAMPLES, make_servers, run, socketpair_connection


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_calculator_scenario_over_a_socket_pair():
    server = load_example("async_calculator_server")
    client = load_example("async_calculator_client")

    async def main():
        c, _ = await socketpair_connection(server.CalculatorImpl())
        calc = c.bootstrap().cast_as(client.calculator.Calculator)
        return await client.scenario(calc)

    assert run(main()) == [
        ("literal", 123.0),
        ("nested", 495.0),
        ("previous", 10.0),
        ("function", 1234.0),
        ("callback", 512.0),
    ]


def test_arguments_positional_keyword_dict_and_request(rpc):
    Counter, _ = make_servers(rpc)

    async def main():
        c, _ = await socketpair_connection(Counter())
        counter = c.bootstrap().cast_as(rpc.Counter)
        totals = [(await counter.add(5, "first")).total]
        totals.append((await counter.add(amount=2, note="kw")).total)
        totals.append((await counter.add(1, note="mixed")).total)
        req = counter.add_request()
        req.amount = 3
        req.note = "from a request"
        assert "from a request" in str(req)
        totals.append((await req.send()).total)
        totals.append((await counter._send("add", 10)).total)
        req = counter._request("add", amount=100)
        totals.append((await req.send()).total)
        with pytest.raises(capnp.KjException, match="Request has already been sent"):
            req.send()
        echoed = (await counter.echo("plain function")).value
        return totals, echoed

    totals, echoed = run(main())
    assert totals == [5, 7, 8, 11, 21, 121]
    assert echoed == "plain function"


def test_client_errors_are_raised_by_the_call(rpc):
    Counter, _ = make_servers(rpc)

    async def main():
        c, _ = await socketpair_connection(Counter())
        counter = c.bootstrap().cast_as(rpc.Counter)
        with pytest.raises(AttributeError, match="Method named nope not found"):
            counter.nope()
        with pytest.raises(AttributeError, match="Method named nope not found"):
            counter.nope_request()
        with pytest.raises(capnp.KjException, match="Too many arguments passed to `add`. Expected 2 and got 3"):
            counter.add(1, "a", 3)
        with pytest.raises(capnp.KjException, match="no such member"):
            counter.add(bogus=1)
        store = c.bootstrap().cast_as(rpc.Store)
        with pytest.raises(capnp.KjException, match="positional args"):
            store.named("x")
        assert {"add", "child", "fail", "echo"} <= set(dir(counter))

    run(main())


def test_pipelining_on_struct_and_capability_fields(rpc, calculator):
    Counter, _ = make_servers(rpc)

    async def main():
        c, _ = await socketpair_connection(Counter(1))
        counter = c.bootstrap().cast_as(rpc.Counter)
        # child() returns a capability; calls on it go out before child() returns.
        grandchild = counter.child().counter.child().counter
        total = (await grandchild.add(5, "x")).total
        promise = counter.add(1, "y")
        with pytest.raises(AttributeError, match="has no such member"):
            promise.nothing
        with pytest.raises(AttributeError, match="total"):
            promise.total
        assert (await promise).total == 2
        with pytest.raises(capnp.KjException, match="already used in a consuming operation"):
            await promise
        return total

    assert run(main()) == 105


def test_results_keep_capabilities_alive(rpc):
    Counter, _ = make_servers(rpc)

    async def main():
        c, _ = await socketpair_connection(Counter(2))
        counter = c.bootstrap().cast_as(rpc.Counter)
        child = (await counter.child()).counter
        del counter
        return (await child.add(1, "")).total, str(await child.child())

    total, text = run(main())
    assert total == 21
    assert text == "( counter = <external capability> )"


def test_inheritance_casts_and_unimplemented(rpc):
    _, Named = make_servers(rpc)

    async def main():
        c, _ = await socketpair_connection(Named(3))
        named = c.bootstrap().cast_as(rpc.Named)
        assert (await named.add(1, "inherited method")).total == 4
        assert (await named.name()).name == "named-4"
        as_counter = named.upcast(rpc.Counter)
        assert (await as_counter.add(1, "")).total == 5
        with pytest.raises(capnp.KjException, match="upcast to non-superclass"):
            named.upcast(rpc.Other)
        other = named.cast_as(rpc.Other)
        with pytest.raises(capnp.KjException, match="Requested interface not implemented") as e:
            await other.ping()
        assert e.value.type == "UNIMPLEMENTED"

    run(main())


def test_capabilities_in_fields_lists_and_callbacks(rpc):
    Counter, _ = make_servers(rpc)

    class StoreImpl(rpc.Store.Server):
        def __init__(self):
            self.entries = {}

        async def put(self, entry, **kwargs):
            self.entries[entry.name] = entry.counter
            return len(self.entries)

        async def get(self, name, **kwargs):
            return {"name": name, "counter": self.entries[name]}

        async def all(self, _context, **kwargs):
            results = _context.results
            entries = results.init("entries", len(self.entries))
            counters = results.init("counters", len(self.entries))
            for i, (name, counter) in enumerate(sorted(self.entries.items())):
                entries[i].name = name
                entries[i].counter = counter
                counters[i] = counter

        async def callBack(self, counter, amount, **kwargs):
            return (await counter.add(amount, "called back")).total

    async def main():
        c, _ = await socketpair_connection(StoreImpl())
        store = c.bootstrap().cast_as(rpc.Store)
        local = Counter(100)  # served by this side, called by the other
        assert (await store.put({"name": "a", "counter": local})).size == 1
        assert (await store.put(entry={"name": "b", "counter": Counter(7)})).size == 2
        got = (await store.get("a")).entry
        assert got.name == "a"
        assert (await got.counter.add(1, "")).total == 101
        everything = await store.all()
        totals = [(await e.counter.add(0, "")).total for e in everything.entries]
        totals += [(await cap.add(0, "")).total for cap in everything.counters]
        assert totals == [101, 7, 101, 7]
        assert (await store.callBack(local, 9)).total == 110
        assert local.total == 110
        # A promise capability passed back before it resolves.
        pending = store.get("b").entry.counter
        assert (await store.callBack(pending, 3)).total == 10

    run(main())


def test_return_forms(rpc):
    class StoreImpl(rpc.Store.Server):
        async def pair(self, **kwargs):
            return ({"left": 1, "right": 2}, 3)

        async def choice(self, x, y, _context, **kwargs):
            if x == 0:
                return None  # defaults
            if x == 1:
                return (x + y,)  # fewer values than fields
            if x == 2:
                return 7, "seven"
            if x == 3:
                results = _context.results
                results.a = 30
                results.b = "context"
                return None
            if x == 4:
                _context.results.b = "kept"  # a returned value fills the other field
                return 44
            return 1, "two", 3

        def blob(self, data, **kwargs):
            return len(data), data[::-1]

    class PlainStore(rpc.Store.Server):
        def choice(self, x, y, _context, **kwargs):  # a plain function returning one value
            if x:
                _context.results.b = "plain"
            return x + y

    async def main():
        c, _ = await socketpair_connection(StoreImpl())
        store = c.bootstrap().cast_as(rpc.Store)
        p = await store.pair()
        out = [(p.pair.left, p.pair.right, p.sum)]
        for x in range(5):
            r = await store.choice(x, 5)
            out.append((r.a, r.b))
        c2, _ = await socketpair_connection(PlainStore())
        plain = c2.bootstrap().cast_as(rpc.Store)
        for x in range(2):
            r = await plain.choice(x, 5)
            out.append((r.a, r.b))
        with pytest.raises(capnp.KjException, match="Too many values returned from `choice`. Expected 2 and got 3"):
            await store.choice(9, 0)
        b = await store.blob(b"\x00\x01\x02" * 1000)
        out.append((b.size, b.data[:3]))
        return out

    assert run(main()) == [
        (1, 2, 3), (0, ""), (6, ""), (7, "seven"), (30, "context"), (44, "kept"), (5, ""),
        (6, "plain"), (3000, b"\x02\x01\x00"),
    ]



@pytest.mark.timeout(30)
def test_results_that_do_not_fit_fail_the_call_and_the_server_goes_on(rpc):
    """A returned value that does not fit the first result field (plain method or coroutine)
    fails that call with FAILED saying why; the next call on the connection is served. The
    method gets `_context` first, then its parameters by keyword."""
    seen = []

    class Plain(rpc.Store.Server):
        def choice(self, **kwargs):
            seen.append(list(kwargs))
            return {1: "not a number", 2: 2 ** 40}.get(kwargs["x"], kwargs["x"] * 10)

    class Async(rpc.Store.Server):
        async def choice(self, x, y, **kwargs):
            return {1: "not a number", 2: 2 ** 40}.get(x, x * 10)

    async def main():
        out = []
        for impl in (Plain(), Async()):
            c, _ = await socketpair_connection(impl)
            store = c.bootstrap().cast_as(rpc.Store)
            for x in (1, 2, 3):
                try:
                    out.append((await store.choice(x, 0)).a)
                except capnp.KjException as e:
                    out.append((e.type, e.description.rsplit("KjException: ", 1)[-1]))
        return out

    mismatch = ("FAILED", "capnp/dynamic: failed: Value type mismatch")
    too_big = (
        "FAILED",
        "capnp/dynamic: failed: Value out-of-range for requested type; value = 1099511627776",
    )
    assert run(main()) == [mismatch, too_big, 30, mismatch, too_big, 30]
    assert seen == [["_context", "x", "y"]] * 3



@pytest.mark.timeout(30)
def test_call_arguments_positional_keyword_and_their_errors(rpc):
    """`client.method(...)` takes positional arguments in parameter order (implicit param
    structs only), keywords, both, none, and ignores `word_count`; what cannot be sent raises
    at the call with the reason, and nothing is sent."""
    calls = []

    class StoreImpl(rpc.Store.Server):
        def choice(self, x, y, **kwargs):
            calls.append((x, y))
            return x * 100 + y

        def named(self, text, **kwargs):
            return text.upper()

    async def main():
        c, _ = await socketpair_connection(StoreImpl())
        store = c.bootstrap().cast_as(rpc.Store)
        out = [
            (await store.choice(1, 2)).a, (await store.choice(1, y=3)).a,
            (await store.choice(y=4)).a, (await store.choice(5, word_count=8)).a,
            (await store.choice()).a, (await store.named(text="t")).out, store.choice.__name__,
        ]
        errors = []
        for bad in (
            lambda: store.choice(1, 2, 3), lambda: store.choice("x"), lambda: store.named("t"),
            lambda: store.choice(2 ** 40),
        ):
            with pytest.raises(capnp.KjException) as e:
                bad()
            errors.append(str(e.value))
        return out, errors

    out, errors = run(main())
    assert out == [102, 103, 4, 500, 0, "T", "choice"]
    assert calls == [(1, 2), (1, 3), (0, 4), (5, 0), (0, 0)]
    assert errors == [
        "Too many arguments passed to `choice`. Expected 2 and got 3",
        "capnp/dynamic: failed: Value type mismatch",
        "Cannot call method `named` with positional args, since its param struct is not "
        "implicitly defined and thus does not have a set order of arguments",
        "capnp/dynamic: failed: Value out-of-range for requested type; value = 1099511627776",
    ]


def test_context_tail_call_release_params_and_new_server(rpc):
    Counter, _ = make_servers(rpc)
    target = Counter(1000)

    class Forwarder(rpc.Store.Server):
        async def forward_context(self, context):
            assert context.params.value == "tail"
            context.release_params()
            with pytest.raises(capnp.KjException, match="released"):
                context.params
            inner = rpc.Counter._new_client(target)
            await context.tail_call(inner.echo_request(value="answered by the target"))

    class Plain:
        def echo(self, value, **kwargs):
            return value.upper()

    async def main():
        c, _ = await socketpair_connection(Forwarder())
        store = c.bootstrap().cast_as(rpc.Store)
        forwarded = (await store.forward("tail")).value
        wrapped = rpc.Counter._new_client(rpc.Counter._new_server(Plain()))
        upper = (await wrapped.echo("plain object")).value
        return forwarded, upper

    forwarded, upper = run(main())
    assert forwarded == "answered by the target"
    assert upper == "PLAIN OBJECT"
    assert rpc.Counter.Server.__name__ == "Counter.Server"
    assert rpc.Counter.Server.schema is rpc.Counter.schema


GENERIC_SCHEMA = """
@0xa1b2c3d4e5f60789;
interface Box(T) {
  get @0 () -> (value :T);
  put @1 (value :T) -> ();
  map @2 [U] (value :U) -> (out :U);
}
struct Item { name @0 :Text; }
interface Shelf {
  box @0 () -> (box :Box(Item));
}
"""


def test_generic_interfaces_and_methods(tmp_path):
    path = tmp_path / "generic.capnp"
    path.write_text(GENERIC_SCHEMA)
    g = capnp.load(str(path))

    class BoxImpl(g.Box.Server):
        def __init__(self):
            self.value = None

        async def get(self, **kwargs):
            return self.value

        async def put(self, value, **kwargs):
            self.value = value.as_struct(g.Item).as_builder()

        async def map(self, value, **kwargs):
            return value

    class ShelfImpl(g.Shelf.Server):
        def __init__(self):
            self.box_impl = BoxImpl()

        async def box(self, **kwargs):
            return self.box_impl

    async def main():
        c, _ = await socketpair_connection(ShelfImpl())
        shelf = c.bootstrap().cast_as(g.Shelf)
        box = shelf.box().box  # a branded generic interface, pipelined
        await box.put(g.Item.new_message(name="thing"))
        got = (await box.get()).value.as_struct(g.Item).name
        mapped = (await box.map("through a generic method")).out.as_text()
        return got, mapped

    assert run(main()) == ("thing", "through a generic method")


ANY_SCHEMA = """
@0xb1b2c3d4e5f60781;
interface Counter { add @0 (amount :Int64) -> (total :Int64); }
interface Holder { get @0 () -> (any :AnyPointer); }
"""


def test_capabilities_in_any_pointer_fields(tmp_path):
    path = tmp_path / "anycap.capnp"
    path.write_text(ANY_SCHEMA)
    s = capnp.load(str(path))

    class CounterImpl(s.Counter.Server):
        def __init__(self):
            self.total = 0

        async def add(self, amount, **kwargs):
            self.total += amount
            return self.total

    class HolderImpl(s.Holder.Server):
        async def get(self, _context, **kwargs):
            _context.results.any = CounterImpl()

    async def main():
        c, _ = await socketpair_connection(HolderImpl())
        holder = c.bootstrap().cast_as(s.Holder)
        response = await holder.get()
        counter = response.any.as_interface(s.Counter)
        return (await counter.add(4)).total

    assert run(main()) == 4


def test_promises_are_asyncio_futures(rpc):
    """A call's promise is an asyncio.Future: gather, wait, wait_for, shield and as_completed
    take it without a task, and done-callbacks get the promise itself."""
    import asyncio

    Counter, _ = make_servers(rpc)

    async def main():
        c, _ = await socketpair_connection(Counter())
        counter = c.bootstrap().cast_as(rpc.Counter)
        p = counter.add(1, "a")
        assert asyncio.isfuture(p) and asyncio.ensure_future(p) is p
        assert p.get_loop() is asyncio.get_running_loop()
        seen = []
        p.add_done_callback(seen.append)
        assert not p.done()
        assert (await asyncio.wait_for(p, 10)).total == 1
        assert seen == [p] and p.done() and p.result().total == 1
        q = counter.add(0, "twice")
        assert (await q).total == 1
        with pytest.raises(capnp.KjException, match="already used in a consuming operation"):
            await q  # as pycapnp: an await consumes the call
        p = counter.add(0, "callback first")
        p.add_done_callback(seen.append)
        assert (await p).total == 1 and seen[-1] is p
        totals = [r.total for r in await asyncio.gather(*[counter.add(1, "g") for _ in range(50)])]
        assert sorted(totals) == list(range(2, 52))
        done, pending = await asyncio.wait([counter.add(1, "w"), counter.add(1, "w")])
        assert not pending and sorted(f.result().total for f in done) == [52, 53]
        assert (await asyncio.shield(counter.add(1, "s"))).total == 54
        got = [(await f).total for f in asyncio.as_completed([counter.add(1, "c")])]
        assert got == [55]
        # An error is the future's exception, retrieved by gather.
        out = await asyncio.gather(counter.fail("python", "boom"), return_exceptions=True)
        assert isinstance(out[0], capnp.KjException) and "boom" in str(out[0])
        # Cancelling through asyncio (a timeout) cancels the call; the connection stays good.
        slow_total = counter.add(1, "t")
        slow_total.cancel()
        assert (await asyncio.gather(slow_total, return_exceptions=True))[0].__class__ is (
            asyncio.CancelledError
        )
        return (await counter.add(0, "end")).total

    assert run(main()) in (55, 56)  # the cancelled call may or may not have reached the server


def test_result_fields_named_like_future_members(rpc):
    Counter, _ = make_servers(rpc)

    class ClashImpl(rpc.Clash.Server):
        async def make(self, start, _context, **kwargs):
            r = _context.results
            r.result = Counter(start)
            r.done.name = "entry"
            r.exception = 7

    async def main():
        c, _ = await socketpair_connection(ClashImpl())
        clash = c.bootstrap().cast_as(rpc.Clash)
        p = clash.make(40)
        # Pipelined through the field named `result`, before the call completes...
        total = (await p.result.add(2, "pipelined")).total
        assert "add" in dir(p.result)
        # ... and the Future members under the same names once it has.
        (reader,) = await asyncio.gather(p)
        assert p.done() and not p.cancelled() and p.exception() is None
        assert p.result() is reader and reader.exception == 7 and reader.done.name == "entry"
        return total, (await reader.result.add(1, "later")).total

    import asyncio

    assert run(main()) == (42, 43)


def test_plain_method_context_params_read_in_place(rpc):
    # A method taking plain parameters gets them from the incoming message itself;
    # `_context.params` is then made on first use: during the call, after an await, and
    # after `release_params` (which refuses it).
    seen = []
    kept = []

    class Counter(rpc.Counter.Server):
        def add(self, amount, note, _context, **kwargs):
            p = _context.params
            seen.append((amount, note, p.amount, p.note, _context.params.note))
            kept.append(_context)
            return amount * 2

        async def echo(self, value, _context, **kwargs):
            await asyncio.sleep(0)
            if value == "release":
                _context.release_params()
                with pytest.raises(capnp.KjException, match="released"):
                    _context.params
                return "released"
            return _context.params.value + "/" + value

    async def main():
        c, _ = await socketpair_connection(Counter())
        counter = c.bootstrap().cast_as(rpc.Counter)
        doubled = (await counter.add(21, "héllo")).total
        echoed = (await counter.echo("x")).value
        released = (await counter.echo("release")).value
        # A context kept past its call still reads its params.
        late = kept[0].params.note
        return doubled, echoed, released, late

    doubled, echoed, released, late = run(main())
    assert (doubled, echoed, released, late) == (42, "x/x", "released", "héllo")
    assert seen == [(21, "héllo", 21, "héllo", "héllo")]


@pytest.mark.timeout(30)
def test_dropping_a_capability_releases_it_without_another_call(rpc):
    # The Release message a dropped client sends leaves on its own: no later call (whose
    # run would flush it) is needed for the server to free its object.
    import gc
    import weakref

    freed = []

    class Counter(rpc.Counter.Server):
        def add(self, amount, note, **kwargs):
            return amount

        def child(self, **kwargs):
            child = Counter()
            weakref.finalize(child, freed[0].set)
            return child

    async def main():
        freed.append(asyncio.Event())
        c, _ = await socketpair_connection(Counter())
        counter = c.bootstrap().cast_as(rpc.Counter)
        kid = (await counter.child()).counter
        assert (await kid.add(5, "")).total == 5
        del kid
        gc.collect()
        await asyncio.wait_for(freed[0].wait(), 10)
        return True

    assert run(main())
