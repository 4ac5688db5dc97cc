"""RPC tests: garbage each test leaves is collected on the main thread when it ends.

RPC objects belong to the thread of their loop. A reference cycle holding them (an asyncio
task and the call promise it awaits, left pending when a test's loop closed) is otherwise
collected whenever the cyclic GC next runs, possibly on a helper thread of a later test, where
the native objects refuse to be dropped (PyO3 reports it as an unraisable exception, which
pytest fails that later test with)."""

import gc

import pytest


@pytest.fixture(autouse=True)
def collect_garbage_on_the_main_thread():
    yield
    gc.collect()
