"""Attributes `perf script -F comm,tid,ip,sym,dso` samples of a GovShare node to request-path layers.

Each sample goes to the innermost (leaf-first) frame that matches a layer below, so a middleware
counts its own work, not the pull behind it. Used for benchmarks/results/profile-small-exchanges.txt:
    perf script -i node.perf -F comm,tid,ip,sym,dso > node.txt && python3 perf-layers.py node.txt
With a CPU figure (us a pull, from the run's results), the layers are also summed into the groups
of that file's table and given in us a pull; a baseline's profile (raw-kestrel in its raw or durable
rounds) goes through the same layers, its group-commit file counting as the log:
    python3 perf-layers.py raw.txt 47.0
"""
import sys, collections
path = sys.argv[1]
layers = [
 ("jit", ["libclrjit"]),
 # The log tail's catch-up runs as a thread-pool work item (LogAggregates::CatchUp), not under ChainAggregates:
 # its own frames name it, or its samples went to threadpool-dispatch.
 ("aggregates-catchup", ["ChainAggregates", "AggregateWarmup", "LogTail", "LogAggregates", "StatisticsAggregate", "EvaluationAggregate", "RecentExchanges"]),
 # Closed segments gzipped by the archiver; zlib's native frames unwind without the managed ones above them.
 ("log archive (gzip)", ["LogArchiver", "DeflateStream", "ZLib", "System.IO.Compression.Native"]),
 ("kafka-relay", ["KafkaLogRelay", "Confluent.Kafka", "librdkafka"]),
 ("logwriter-loop", ["LogChannel+<RunAsync>", "GroupCommitFile"]),
 ("metrics", ["OpenTelemetry", "System.Diagnostics.Metrics", "ExchangeMetrics", "LogMetrics", "MetricsContext", "HostingMetrics"]),
 ("log-append(serialize)", ["LogChannel::AppendAsync"]),
 ("ExchangeStep.Record", ["ExchangeStep+<RecordAsync>", "ExchangeStep::RecordAsync"]),
 ("AnswerFromCache", ["AnswerFromCacheAsync"]),
 ("PullAsync", ["ExchangeApi+<PullAsync>", "ExchangeApi::PullAsync"]),
 ("endpoint-delegate(RDF)", ["lambda_method", "EndpointMiddleware", "RawServer"]),
 ("NodeRouting", ["NodeRoutingMiddleware"]),
 ("authorization", ["AuthorizationMiddleware", "ProblemAuthorizationResultHandler", "PolicyEvaluator", "AuthorizationService"]),
 ("OnBehalfOf", ["OnBehalfOfMiddleware"]),
 ("RecheckRevocation", ["IdentitySetup::Recheck", "IdentitySetup+<ReadAndRecheck"]),
 ("authentication", ["AuthenticationMiddleware", "AuthenticationHandler", "CertificateAuthentication", "AuthenticationService", "Identity.CallerGate"]),
 ("SeparateListeners", ["SeparateListeners"]),
 ("routing", ["EndpointRoutingMiddleware", "DfaMatcher"]),
 ("statuscodepages", ["StatusCodePages"]),
 ("exceptionhandler", ["ExceptionHandlerMiddleware"]),
 ("problemboundary", ["Hosting.ProblemBoundary"]),
 ("hosting", ["HostingApplication"]),
 ("kestrel-http", ["HttpProtocol", "Http1Connection", "Http1OutputProducer", "KestrelConnection", "ConnectionDispatcher"]),
 ("ssl", ["SslStream", "libssl", "libcrypto"]),
 ("sockets", ["SocketAsyncEngine", "SocketConnection", "IOQueue", "Sockets"]),
 ("threadpool-wait", ["LowLevelLifoSemaphore", "LowLevelSpinWaiter", "WorkerThread"]),
 ("threadpool-dispatch", ["ThreadPoolWorkQueue::Dispatch"]),
]
samples=[]; cur=[]
for line in open(path, errors='replace'):
    if line.startswith('\t') or line.startswith(' '):
        parts=line.strip().split(' ',1); cur.append(parts[1] if len(parts)>1 else parts[0])
    else:
        if cur: samples.append(cur)
        cur=[]
if cur: samples.append(cur)
cnt=collections.Counter(); n=len(samples)
for s in samples:
    who="other"
    for f in s:  # leaf first
        for name,pats in layers:
            if any(p in f for p in pats):
                who=name; break
        if who!="other": break
    cnt[who]+=1
for k,v in cnt.most_common(): print(f"{100*v/n:6.2f}%  {k}")

groups = [
 ("TLS / Kestrel / ASP.NET pipeline", ["ssl", "sockets", "kestrel-http", "hosting", "routing", "statuscodepages", "exceptionhandler", "problemboundary", "endpoint-delegate(RDF)", "SeparateListeners"]),
 ("authentication + authorization", ["authentication", "RecheckRevocation", "authorization", "OnBehalfOf"]),
 ("decision (pull endpoint, node routing)", ["PullAsync", "NodeRouting"]),
 ("Arrow answer (from the answer cache)", ["AnswerFromCache"]),
 ("log append + fsync wait (writer loop)", ["logwriter-loop", "log-append(serialize)", "ExchangeStep.Record"]),
 ("metrics", ["metrics"]),
 ("Kafka relay", ["kafka-relay"]),
 ("aggregates (log tail catch-up)", ["aggregates-catchup"]),
 ("log archive (gzip of closed segments)", ["log archive (gzip)"]),
 ("thread pool (wait/spin + dispatch)", ["threadpool-wait", "threadpool-dispatch"]),
 ("JIT", ["jit"]),
 ("other (GC, runtime, kernel unattributed)", ["other"]),
]
if len(sys.argv) > 2:
    us = float(sys.argv[2])
    print(f"# groups, us a pull of {us:.1f}")
    for name, members in groups:
        share = sum(cnt[m] for m in members) / n
        print(f"{100*share:6.2f}%  {us*share:6.1f} us  {name}")
