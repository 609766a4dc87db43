"""Push layers (benchmarks/results/profile-push.txt, fix/push6): perf script -F comm,tid,ip,sym,dso output -> ns/B per layer.
usage: layers.py file.txt bytes_pushed [period_ms]"""
import sys, collections
path=sys.argv[1]; nbytes=float(sys.argv[2]); period=float(sys.argv[3]) if len(sys.argv)>3 else 1000/499
def crypto(s):
    if s and 'libcrypto' in s[0]:
        a=int(s[0].split()[0],16)
        if 0x280000<=a<0x2b0000: return 'sha'
        if 0x230000<=a<0x260000: return 'aes'
    return None
anyrules=[  # first match over the whole stack, in this order
 ("jit (tier-up, libclrjit)", lambda c,s: c.startswith('.NET Tiered') or any('libclrjit' in f for f in s)),
 ("fsync", lambda c,s: any('fsync' in f for f in s)),
 ("file write (pwrite, page-cache copy)", lambda c,s: any(('pwrite' in f or 'ksys_write' in f or 'vfs_write' in f) for f in s)),
 ("page faults", lambda c,s: any(('exc_page_fault' in f or 'handle_mm_fault' in f) for f in s)),
 ("sha-256 (segment blocks; libcrypto 0x28-0x2axxxx)", lambda c,s: crypto(s)=='sha' or any(('HashAndWrite' in f or 'IncrementalHash' in f) for f in s)),
 ("tls: aes-gcm (libcrypto 0x23-0x25xxxx)", lambda c,s: crypto(s)=='aes'),
 ("libcrypto other / libssl", lambda c,s: any(('libcrypto' in f or 'libssl' in f) for f in s)),
 ("socket receive (kernel)", lambda c,s: any(('tcp_recvmsg' in f or 'sock_recvmsg' in f or '__sys_recvfrom' in f or 'sock_read_iter' in f) for f in s)),
 ("scheduler/futex/yield (kernel)", lambda c,s: any(('futex' in f or 'schedule' in f or 'sched_yield' in f or 'finish_task_switch' in f) for f in s)),
 ("socket other (epoll, softirq, tcp send)", lambda c,s: any(('epoll' in f or 'tcp_' in f or 'net_rx' in f or 'do_softirq' in f or 'sock_' in f) for f in s)),
 ("gc", lambda c,s: c.startswith('.NET BGC') or any(('WKS::' in f or 'gc_heap' in f) for f in s[:6])),
]
leafrules=[  # leaf first, managed names
 ("ArrowBatchValidator", ["ArrowBatchValidator", "Utf8Utility", "Utf8::IsValid"]),
 ("ItemValueValidator", ["ItemValueValidator"]),
 ("framing guard / SafeArrowReader / UploadCap", ["ArrowFramingGuard", "SafeArrowReader", "UploadCap", "ArrowMessageMetadata"]),
 ("SegmentFileWriter copy into chunks", ["SegmentFileWriter"]),
 ("Apache.Arrow (decode, writer)", ["Apache.Arrow"]),
 ("DatasetPush / ExchangeApi", ["DatasetPush", "DatasetStore", "ExchangeApi", "PushKeys"]),
 ("tls: managed (SslStream)", ["SslStream", "System.Net.Security"]),
 ("Kestrel / pipe / HTTP body", ["Kestrel", "Pipelines", "Http1", "HttpRequestStream", "MessageBody", "Microsoft.AspNetCore"]),
 ("sockets (managed)", ["System.Net.Sockets", "SocketAsyncEngine"]),
 ("threadpool (managed wait/dispatch)", ["LowLevelLifoSemaphore", "LowLevelSpinWaiter", "PortableThreadPool", "ThreadPoolWorkQueue"]),
 ("memmove (unattributed copy)", ["memmove", "memcpy"]),
]
samples=[]; cur=None
for line in open(path, errors='replace'):
    if not line.strip():
        if cur: samples.append(cur); cur=None
        continue
    if line[0] not in ' \t':
        if cur: samples.append(cur)
        cur=(line.split()[0] if line.split() else '', [])
    else:
        if cur is not None: cur[1].append(line.strip())
if cur: samples.append(cur)
cnt=collections.Counter()
for comm,s in samples:
    who=None
    for name,rule in anyrules:
        if rule(comm,s): who=name; break
    if who is None:
        for f in s:
            for name,pats in leafrules:
                if any(p in f for p in pats): who=name; break
            if who: break
    cnt[who or "other (libc, coreclr, kernel, unnamed)"]+=1
n=len(samples)
print(f"# {n} samples, {nbytes:.0f} bytes, {period:.3f} ms/sample")
for k,v in cnt.most_common():
    print(f"    {k:55s} {v*period*1e6/nbytes:6.2f} ns/B  {100*v/n:5.1f} %")
print(f"    {'total':55s} {n*period*1e6/nbytes:6.2f} ns/B")
