using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Confluent.Kafka;

namespace GovShare.Node.Logs;

/// <summary>Arguments of <c>govshare log verify</c>: a local data folder or a Kafka topic, and a range.</summary>
public sealed record LogVerifyRequest
{
    public LogKind Log { get; init; } = LogKind.Exchange;

    /// <summary>The node's data folder (Node:DataPath). Read only; the node may be running.</summary>
    public string? DataPath { get; init; }

    public string? KafkaBootstrapServers { get; init; }

    /// <summary>Defaults to <c>govshare.&lt;node&gt;.&lt;log&gt;</c> when <see cref="Node"/> is given.</summary>
    public string? Topic { get; init; }

    /// <summary>Division code of the node whose log it is; required for Kafka unless the topic names it.</summary>
    public string? Node { get; init; }

    /// <summary>PEM certificate of the node; without it checkpoint signatures are not checked (and the message says so).</summary>
    public string? CertificatePath { get; init; }

    public long From { get; init; } = 1;

    public long To { get; init; } = long.MaxValue;

    public TimeSpan KafkaTimeout { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>Exit code and text of one <c>govshare log verify</c> run.</summary>
public sealed record LogVerifyOutcome(int ExitCode, string Message, LogVerification? Verification);

/// <summary>
/// The logic of <c>govshare log verify</c>. Exit codes: 0 the range verifies, 5 a bad record
/// (named in the message; the code <c>node run</c> exits with on the same damage, README.md "Exit
/// codes"), 2 the arguments are wrong (all problems listed), 3 the source cannot be read.
/// </summary>
public static class LogVerifyCommand
{
    public const int Verified = 0;
    /// <summary>A damaged or tampered log: README's exit code 5, as <c>node run</c> refuses to start on it (1 there means the node refused a request).</summary>
    public const int BadRecord = 5;
    public const int Usage = 2;
    public const int Unreadable = 3;

    /// <summary>Every replica's chain of the log (each compared with its chain in Kafka when given): verified only when each is; the worst exit code, each replica named.</summary>
    private static LogVerifyOutcome RunReplicas(LogVerifyRequest request, List<string> replicas)
    {
        if (replicas.Count == 0)
        {
            return new LogVerifyOutcome(Usage, $"'{request.DataPath}' has a replicas folder but no replica in it.", null);
        }

        var outcomes = replicas.Select(r => (Replica: Path.GetFileName(r), Outcome: Run(request with { DataPath = r }))).ToList();
        var worst = outcomes.Select(o => o.Outcome.ExitCode).Max();
        var message = string.Join(Environment.NewLine, outcomes.Select(o => $"replica {o.Replica}: {o.Outcome.Message}"));
        return new LogVerifyOutcome(worst, message, outcomes.FirstOrDefault(o => o.Outcome.ExitCode == worst).Outcome.Verification);
    }

    public static LogVerifyOutcome Run(LogVerifyRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<string>();
        var local = !string.IsNullOrWhiteSpace(request.DataPath);
        var kafka = !string.IsNullOrWhiteSpace(request.KafkaBootstrapServers);
        if (!local && !kafka)
        {
            errors.Add("Give a source: --data <path>, --kafka <bootstrap servers>, or both to compare the Kafka copy with the local log.");
        }

        if (local && !Directory.Exists(request.DataPath))
        {
            errors.Add($"The data folder '{request.DataPath}' does not exist.");
        }

        var node = request.Node;
        var topic = request.Topic;
        if (kafka)
        {
            if (topic is null && node is not null)
            {
                topic = KafkaOptions.Topic(node, request.Log);
            }

            if (topic is null)
            {
                errors.Add("Give --topic or --node for a Kafka source.");
            }
            else if (node is null)
            {
                var parts = topic.Split('.');
                if (parts is ["govshare", var division, _])
                {
                    node = division;
                }
                else
                {
                    errors.Add($"The topic '{topic}' does not name a node (govshare.<division>.<log>); give --node.");
                }
            }
        }

        if (request.From < 1)
        {
            errors.Add("--from must be at least 1.");
        }

        if (request.To < request.From)
        {
            errors.Add("--to must not be below --from.");
        }

        if (request.CertificatePath is not null && !File.Exists(request.CertificatePath))
        {
            errors.Add($"The certificate '{request.CertificatePath}' does not exist.");
        }

        // A node of several replicas (State:Backend=postgresql): the folder all of them share holds
        // replicas/<replica>/, each a data folder with its own chains. Verify every one.
        var replicas = local && Directory.Exists(request.DataPath) && !Directory.Exists(Path.Combine(request.DataPath!, "logs")) && Directory.Exists(Path.Combine(request.DataPath!, "replicas"))
            ? Directory.GetDirectories(Path.Combine(request.DataPath!, "replicas")).Order(StringComparer.Ordinal).ToList()
            : null;
        if (errors.Count > 0)
        {
            return new LogVerifyOutcome(Usage, string.Join(Environment.NewLine, errors), null);
        }

        if (replicas is not null)
        {
            return RunReplicas(request, replicas);
        }

        ECDsa? key = null;
        try
        {
            if (request.CertificatePath is not null)
            {
                using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(request.CertificatePath));
                key = certificate.GetECDsaPublicKey();
                if (key is null)
                {
                    return new LogVerifyOutcome(Usage, $"The certificate '{request.CertificatePath}' has no ECDSA key.", null);
                }
            }

            var result = local && kafka
                ? Compare(request, topic!, node!, key)
                : local
                    ? LogVerifier.VerifyStore(LogStore.ForDataFolder(request.DataPath!), request.Log, key, request.From, request.To, request.Node)
                    : VerifyKafka(request, topic!, node!, key);
            return new LogVerifyOutcome(result.Ok ? Verified : BadRecord, result.Message, result);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or KafkaException or TimeoutException or InvalidDataException)
        {
            return new LogVerifyOutcome(Unreadable, "Cannot read the log: " + ex.Message, null);
        }
        finally
        {
            key?.Dispose();
        }
    }

    /// <summary>
    /// Both copies verified, then compared sequence by sequence: the lowest sequence whose record
    /// differs, or that only one side holds up to where both should, is named. A local log that was
    /// rewritten after shipping, or a Kafka copy that was, diverges there.
    /// </summary>
    private static LogVerification Compare(LogVerifyRequest request, string topic, string node, ECDsa? key)
    {
        var store = LogStore.ForDataFolder(request.DataPath!);
        var copy = KafkaLogReader.ReadTopic(request.KafkaBootstrapServers!, topic, request.KafkaTimeout);
        // Every replica of the node ships to the same topic: compare with this folder's chain only.
        var replica = store.ReadEntries(request.Log).FirstOrDefault()?.Replica;
        var shipped = new Dictionary<long, LogEntry>();
        var dedup = new LogDeduplicator();
        long checkedCount = 0;
        foreach (var entry in copy.Entries.Where(e => e.Replica == replica && e.Sequence >= request.From && e.Sequence <= request.To))
        {
            if (dedup.Add(entry) == DeduplicationOutcome.New)
            {
                shipped[entry.Sequence] = entry;
            }
            else if (shipped[entry.Sequence].Hash != entry.Hash)
            {
                return Diverged(request.Log, entry.Sequence, $"Kafka holds two versions of record {entry.Sequence}.");
            }
        }

        var localLast = 0L;
        foreach (var entry in store.ReadEntries(request.Log, request.From, request.To))
        {
            localLast = entry.Sequence;
            if (shipped.TryGetValue(entry.Sequence, out var remote))
            {
                if (remote.Hash != entry.Hash || !remote.HashMatches || !entry.HashMatches)
                {
                    return Diverged(request.Log, entry.Sequence,
                        $"record {entry.Sequence} differs: Kafka has hash {remote.Hash}, the local log {entry.Hash}.");
                }

                checkedCount++;
            }
        }

        var missingLocally = shipped.Keys.Where(s => s > localLast).Order().FirstOrDefault();
        if (missingLocally > 0)
        {
            return Diverged(request.Log, missingLocally, $"Kafka holds record {missingLocally} but the local log ends at {localLast}: deleted locally.");
        }

        var local = LogVerifier.VerifyStore(store, request.Log, key, request.From, request.To, request.Node);
        if (!local.Ok)
        {
            return local;
        }

        return new LogVerification(LogFault.None, null,
            $"The {request.Log} log: the local log verifies and its {checkedCount} records in Kafka ({topic}) are identical; {shipped.Count - checkedCount} only in Kafka, none diverging.",
            local.RecordsChecked, local.CheckpointsChecked, local.SignaturesChecked);

        LogVerification Diverged(LogKind log, long sequence, string detail) =>
            new(LogFault.ConflictingDuplicate, sequence, $"The {log} log diverges from its Kafka copy ({topic}) at sequence {sequence}: {detail}", checkedCount, 0, key is not null);
    }

    private static LogVerification VerifyKafka(LogVerifyRequest request, string topic, string node, ECDsa? key)
    {
        var copy = KafkaLogReader.ReadTopic(request.KafkaBootstrapServers!, topic, request.KafkaTimeout);
        if (copy.Unreadable.Count > 0)
        {
            var first = copy.Unreadable[0];
            return new LogVerification(LogFault.Unreadable, null,
                $"The {request.Log} log on {topic}: partition {first.Partition} offset {first.Offset} is not a log entry.", 0, 0, key is not null);
        }

        // The chains of every replica share the topic: each is verified on its own and reported.
        var chains = LogVerifier.VerifyChains(copy.Entries, request.Log, node, key, request.From, request.To);
        if (chains.Count <= 1)
        {
            return chains.Count == 1 ? chains[0] : LogVerifier.VerifyCopy([], request.Log, node, key, request.From, request.To);
        }

        var named = chains.FirstOrDefault(c => !c.Ok) ?? chains[0];
        return named with
        {
            Message = string.Join(Environment.NewLine, chains.Select(c => c.Message)),
            RecordsChecked = chains.Sum(c => c.RecordsChecked),
            CheckpointsChecked = chains.Sum(c => c.CheckpointsChecked),
        };
    }
}
