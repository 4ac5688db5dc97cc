"""Memory growth: a million build / serialize / parse / to_dict cycles leave memory flat.

pycapnp users report leaks in exactly these paths; every object we hand out must be freed
when Python drops it.
"""

import gc
import os
import sys

import pytest

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples")

CYCLES = 1_000_000
WARMUP = 100_000
# Allocator noise and arena fragmentation are allowed; a leak of even 8 bytes a cycle is not.
ALLOWED_GROWTH_BYTES = 8 * 1024 * 1024


def current_rss_bytes():
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.timeout(600)
def test_a_million_cycles_leave_memory_flat():
    ab = capnp.load(os.path.join(EXAMPLES, "addressbook.capnp"))

    def cycle(i):
        person = ab.Person.new_message(id=i, name="Alice", email="alice@example.com")
        phones = person.init("phones", 2)
        phones[0].number = "555-1212"
        phones[0].type = "home"
        phones[1].number = "555-7654"
        phones[1].type = "work"
        person.employment.school = "MIT"
        data = person.to_bytes()
        person.clear_write_flag()
        packed = person.to_bytes_packed()
        with ab.Person.from_bytes(data) as reader:
            d = reader.to_dict()
        again = ab.Person.from_bytes_packed(packed)
        assert again.id == i and d["name"] == "Alice"

    for i in range(WARMUP):
        cycle(i)
    gc.collect()
    before = current_rss_bytes()
    for i in range(WARMUP, CYCLES):
        cycle(i)
    gc.collect()
    growth = current_rss_bytes() - before
    assert growth < ALLOWED_GROWTH_BYTES, f"memory grew by {growth / 1e6:.1f} MB"
