"""Large messages: a 4 MiB list of structs against a plain copy of the same bytes, a 50 MB Data
field, and reading a large file through mmap (with the resident memory it adds)."""

import functools
import mmap
import os
import struct
import tempfile

from . import Benchmark, RSS_TARGET_MB, open_reader, schema

UNLIMITED = 2 ** 62


def item_count(quick):
    # 4 data words per Item: 131,072 items are 4 MiB of list content.
    return 1024 if quick else 131072


def item_values(i):
    return (i, i * 0.5, -i, i & 0xFFFF, i % 7)


@functools.lru_cache(maxsize=None)
def item_list_bytes(quick):
    bench = schema("bench.capnp")
    builder = bench.ItemList.new_message()
    items = builder.init("items", item_count(quick))
    for i, item in enumerate(items):
        item.id, item.value, item.weight, item.flags, item.kind = item_values(i)
    return builder, builder.to_bytes()


def sum_ids(module, data):
    with module.from_bytes(data, traversal_limit_in_words=UNLIMITED) as reader:
        return sum(item.id for item in reader.items)


def items_ns(quick):
    builder, data = item_list_bytes(quick)
    return {"builder": builder, "data": data, "ItemList": schema("bench.capnp").ItemList,
            "sum_ids": sum_ids, "UNLIMITED": UNLIMITED}


def _items_expected(quick):
    n = item_count(quick)
    return [n, list(item_values(n - 1))]


def _items_check(ns):
    manager, reader = open_reader(ns["ItemList"], ns["out"], traversal_limit_in_words=UNLIMITED)
    last = reader.items[len(reader.items) - 1]
    return [len(reader.items), [last.id, last.value, last.weight, last.flags, last.kind]]


Benchmark("large.copy_4mb", items_ns, "out = bytes(bytearray(data))", check="len(out)",
          expected=lambda quick: len(item_list_bytes(quick)[1]), target="baseline",
          doc="baseline: a plain copy of the 4 MiB message's bytes, bytes(bytearray(b))")
Benchmark("large.to_bytes_4mb", items_ns, "out = builder.to_bytes()", check=_items_check,
          expected=_items_expected, target="to_bytes", baseline="large.copy_4mb",
          doc="to_bytes() of a 4 MiB List(Item) message")
Benchmark("large.from_bytes_4mb", items_ns,
          "with ItemList.from_bytes(data, traversal_limit_in_words=UNLIMITED) as r: "
          "out = len(r.items)",
          check="out", expected=lambda quick: item_count(quick), target="from_bytes",
          baseline="large.copy_4mb",
          doc="from_bytes() of the 4 MiB message and the list's length")
Benchmark("large.from_bytes_4mb_read_all", items_ns, "sum_ids(ItemList, data)",
          expected=lambda quick: sum(range(item_count(quick))), target=None,
          doc="from_bytes() of the 4 MiB message and one field of every element")


def blob_size(quick):
    return (1 << 20) if quick else 50 * 1000 * 1000


@functools.lru_cache(maxsize=None)
def blob(quick):
    # Deterministic, not constant: a repeated 251-byte pattern (prime length).
    pattern = bytes(range(251))
    size = blob_size(quick)
    return (pattern * (size // len(pattern) + 1))[:size]


@functools.lru_cache(maxsize=None)
def blob_message_bytes(quick):
    builder = schema("bench.capnp").Blob.new_message()
    builder.payload = blob(quick)
    return builder.to_bytes()


def blob_ns(quick):
    data = blob_message_bytes(quick)
    Blob = schema("bench.capnp").Blob
    manager, reader = open_reader(Blob, data, traversal_limit_in_words=UNLIMITED)
    return {"Blob": Blob, "payload": blob(quick), "data": data, "manager": manager,
            "r": reader}


Benchmark("large.data_50mb_set", blob_ns, "out = Blob.new_message(); out.payload = payload",
          check="out.payload", expected=blob, target="set",
          doc="new_message() and set a 50 MB Data field")
Benchmark("large.data_50mb_read", blob_ns, "r.payload", expected=blob, target="read",
          doc="read a 50 MB Data field from a reader")

# The mmap benchmark's file: RecordFile { records :List(Record) }, Record { a, b :UInt64 },
# one segment, written here without capnp so that neither implementation's writer (nor its
# memory) is involved, and shared by both workers. Record i has a = i mod 65536 and b = 0,
# except the sampled records, whose b is i + 1. (Writing real blocks rather than a sparse
# file: the pages are then in the page cache, as for a file just written or often read.)
RECORD_BLOCK = 65536
# Few enough that the kernel's fault-around (up to 64 KiB mapped per touched page of a
# cached file) stays well under the RSS target.
SAMPLES = 256


def record_count(quick):
    # 16 bytes per record: 2**26 records are 1 GiB (16 MiB when quick).
    return (1 << 20) if quick else (1 << 26)


def sample_indices(quick):
    n = record_count(quick)
    return [(k * (n // SAMPLES) + k) % n for k in range(SAMPLES)] + [n - 1]


def record_file(quick):
    """Path of the record file in the runner's temporary directory (BENCH_TMPDIR), written
    on first use by whichever worker gets there first."""
    directory = os.environ.get("BENCH_TMPDIR") or tempfile.gettempdir()
    n = record_count(quick)
    path = os.path.join(directory, "records-%d.bin" % n)
    if not os.path.exists(path):
        _write_record_file(path, n, sample_indices(quick))
    return path


def _write_record_file(path, n, samples):
    segment_words = 3 + 2 * n
    header = struct.pack("<II", 0, segment_words)
    # Root struct pointer: offset 0, no data words, one pointer.
    root = struct.pack("<Q", 1 << 48)
    # List pointer: offset 0, element size 7 (composite), 2n words of content.
    records = struct.pack("<Q", 1 | (7 << 32) | ((2 * n) << 35))
    # Tag word: n elements of 2 data words and no pointers.
    tag = struct.pack("<Q", (n << 2) | (2 << 32))
    block = b"".join(struct.pack("<QQ", a, 0) for a in range(RECORD_BLOCK))
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(header + root + records + tag)
        start = f.tell()
        written = 0
        while written < n:
            count = min(RECORD_BLOCK, n - written)
            f.write(block[:count * 16])
            written += count
        for i in samples:
            f.seek(start + 16 * i + 8)
            f.write(struct.pack("<Q", i + 1))
    os.replace(temporary, path)


def read_mapped(module, path, samples):
    """mmap the file, from_bytes, read both fields of the sampled records."""
    with open(path, "rb") as f:
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            with module.from_bytes(mapped, traversal_limit_in_words=UNLIMITED) as reader:
                records = reader.records
                total = len(records)
                for i in samples:
                    record = records[i]
                    total += record.a + record.b
                del records, record
            del reader
    return total


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def mmap_ns(quick):
    return {"RecordFile": schema("bench.capnp").RecordFile, "path": record_file(quick),
            "samples": sample_indices(quick), "read_mapped": read_mapped}


def mmap_rss(ns):
    """Resident memory added while the file is mapped and the sampled fields were read: the
    peak is sampled with the reader still open."""
    module, path, samples = ns["RecordFile"], ns["path"], ns["samples"]
    before = rss_mb()
    with open(path, "rb") as f:
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            with module.from_bytes(mapped, traversal_limit_in_words=UNLIMITED) as reader:
                records = reader.records
                for i in samples:
                    records[i].a
                during = rss_mb()
                del records
            del reader
    return {"rss_mb": round(during - before, 2),
            "file_mb": round(os.path.getsize(path) / 1e6, 1)}


def _mmap_expected(quick):
    n = record_count(quick)
    return n + sum(i % RECORD_BLOCK + i + 1 for i in sample_indices(quick))


Benchmark("large.mmap_read", mmap_ns, "read_mapped(RecordFile, path, samples)",
          expected=_mmap_expected, metrics=mmap_rss, target=None,
          doc="mmap a 1 GiB message file, from_bytes, read %d records' fields; RSS growth "
          "target < %d MB" % (SAMPLES + 1, RSS_TARGET_MB))
