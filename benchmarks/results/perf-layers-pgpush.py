"""The department tool's PostgreSQL push, by layer (benchmarks/results/profile-pg-push.txt, fix/pgpush7).
Input: `perf script -F comm,tid,ip,sym,dso` of `perf record -g` on the Native AOT tool (symbols from govshare.dbg).
usage: perf-layers-pgpush.py script.txt [more script.txt ...]   -> share of samples per layer, and page faults inside each
Each sample goes to the first layer whose rule matches any frame of its stack (rules in this order)."""
import sys, collections

rules = [
    ("start-up: runtime init, binary load (before Main)", ["InitializeModules", "RehydrateData", "_dl_relocate", "_dl_map_object", "dl_main", "_dl_start"]),
    ("system trust store preload (other thread)", ["PreloadSystemTrustStore"]),
    ("settings, certificate and key read", ["DepartmentCredentials", "DepartmentConnection__Load", "DepartmentCommand__Load"]),
    ("source: batch handed out (Build/Flush)", ["RecordBatchAssembler__Flush"]),
    ("source: Npgsql COPY stream reads", ["NpgsqlRawCopyStream", "NpgsqlReadBuffer"]),
    ("source: numeric -> decimal128", ["PostgresCopyReader__Numeric", "DecimalAppender"]),
    ("source: text -> utf8", ["Utf8Appender", "VariableWidthAppender", "BinaryArray_BuilderBase"]),
    ("source: timestamp, date", ["PostgresCopyReader__Timestamp", "PostgresCopyReader__Date", "TimestampAppender", "Date32Appender"]),
    ("source: rows parsed, other values", ["PostgresCopyReader", "ColumnAppender", "RecordBatchAssembler", "FixedWidthAppender", "GrowingBuffer", "ValidityBitmap"]),
    ("source: connection open, schema query (Npgsql)", ["Npgsql"]),
    ("catalog check of each batch", ["CatalogCheck__CheckAsync_d__11__MoveNext"]),
    ("upload: Arrow IPC writer", ["ArrowStreamWriter"]),
    ("upload/handshake: TLS (SslStream, OpenSSL)", ["SslStream", "libssl", "libcrypto", "Interop_Ssl", "Interop_Crypto"]),
    ("HTTP client, sockets", ["System_Net_Http", "System_Net_Sockets", "SocketAsyncEngine"]),
    ("GC", ["gc_heap", "GCHeap", "WKS::"]),
    ("thread pool, waits", ["PortableThreadPool", "LowLevelLifoSemaphore", "sched_yield", "futex", "Thread__Yield"]),
]
samples = []
for path in sys.argv[1:]:
    cur = None
    for line in open(path, errors="replace"):
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = None
            continue
        if line[0] not in " \t":
            if cur:
                samples.append(cur)
            cur = []
        elif cur is not None:
            cur.append(line.strip())
    if cur:
        samples.append(cur)
count = collections.Counter()
faults = collections.Counter()
for stack in samples:
    # The source thread runs under the catalog check's enumerator: the check is only what is not deeper in the source.
    layer = next((name for name, keys in rules if any(k in f for f in stack for k in keys)), "other (kernel, libc, unattributed)")
    count[layer] += 1
    if any("exc_page_fault" in f for f in stack):
        faults[layer] += 1
total = sum(count.values())
print(f"{total} samples")
for name, _ in rules + [("other (kernel, libc, unattributed)", None)]:
    if count[name]:
        print(f"{100 * count[name] / total:6.1f} %  {name}" + (f"   (page faults {100 * faults[name] / total:.1f} %)" if faults[name] else ""))
print(f"page faults in all: {100 * sum(faults.values()) / total:.1f} %")
