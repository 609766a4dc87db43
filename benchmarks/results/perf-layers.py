"""Attributes `perf script -F comm,tid,ip,sym,dso` samples of a GovShare node to request-path layers.

Each sample goes to the innermost (leaf-first) frame that matches a layer below, so a middleware
counts its own work, not the pull behind it. Used for benchmarks/results/profile-small-exchanges.txt:
    perf script -i node.perf -F comm,tid,ip,sym,dso > node.txt && python3 perf-layers.py node.txt
"""
import sys, collections
path = sys.argv[1]
layers = [
 ("jit", ["libclrjit"]),
 ("aggregates-catchup", ["ChainAggregates", "AggregateWarmup"]),
 ("kafka-relay", ["KafkaLogRelay", "Confluent.Kafka", "librdkafka"]),
 ("logwriter-loop", ["LogChannel+<RunAsync>"]),
 ("log-append(serialize)", ["LogChannel::AppendAsync"]),
 ("ExchangeStep.Record", ["ExchangeStep+<RecordAsync>", "ExchangeStep::RecordAsync"]),
 ("AnswerFromCache", ["AnswerFromCacheAsync"]),
 ("PullAsync", ["ExchangeApi+<PullAsync>", "ExchangeApi::PullAsync"]),
 ("endpoint-delegate(RDF)", ["lambda_method", "EndpointMiddleware"]),
 ("NodeRouting", ["NodeRoutingMiddleware"]),
 ("authorization", ["AuthorizationMiddleware", "ProblemAuthorizationResultHandler", "PolicyEvaluator", "AuthorizationService"]),
 ("OnBehalfOf", ["OnBehalfOfMiddleware"]),
 ("RecheckRevocation", ["IdentitySetup::Recheck", "IdentitySetup+<ReadAndRecheck"]),
 ("authentication", ["AuthenticationMiddleware", "AuthenticationHandler", "CertificateAuthentication", "AuthenticationService"]),
 ("SeparateListeners", ["SeparateListeners"]),
 ("routing", ["EndpointRoutingMiddleware", "DfaMatcher"]),
 ("statuscodepages", ["StatusCodePages"]),
 ("exceptionhandler", ["ExceptionHandlerMiddleware"]),
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
