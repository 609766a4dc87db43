using GovShare.Node.Kernel;

namespace GovShare.Node.Logs;

/// <summary>Another replica's data folder: its chains, read only (that replica is their one writer).</summary>
public sealed record ReplicaChain(string Replica, LogStore Store);

/// <summary>
/// Every chain of this node: this process's own (through its <see cref="LogWriter"/>, durable
/// entries only) and, when the node runs as several replicas whose data folders lie side by side
/// on a shared volume (<see cref="LogOptions.ReplicasPath"/>, <c>replicas/&lt;replica&gt;/</c>), every
/// other replica's, the replicas that are gone included: their exchanges happened. A node of
/// one process has only its own. Statistics and the evaluation read through this, so an exchange
/// counts wherever the load balancer sent it.
/// </summary>
public sealed class ReplicaChains(LogWriter writer, string? replicasPath)
{
    /// <summary>The replicas folder in force: the setting, else the parent of the data folder when it is named <c>replicas</c> and the node runs as several replicas.</summary>
    public static string? ReplicasFolder(LogOptions logs, StateOptions state, string dataPath)
    {
        ArgumentNullException.ThrowIfNull(logs);
        ArgumentNullException.ThrowIfNull(state);
        if (!string.IsNullOrWhiteSpace(logs.ReplicasPath))
        {
            return Path.GetFullPath(logs.ReplicasPath);
        }

        var parent = Path.GetDirectoryName(Path.GetFullPath(dataPath).TrimEnd(Path.DirectorySeparatorChar));
        return state.IsPostgreSql && parent is not null && Path.GetFileName(parent) == "replicas" ? parent : null;
    }

    public LogWriter Own { get; } = writer ?? throw new ArgumentNullException(nameof(writer));

    /// <summary>The other replicas' chains found now (a replica started since appears at the next call), by replica name.</summary>
    public IReadOnlyList<ReplicaChain> Others()
    {
        if (replicasPath is null || !Directory.Exists(replicasPath))
        {
            return [];
        }

        var own = Path.GetFullPath(Own.Store.LogsFolder).TrimEnd(Path.DirectorySeparatorChar);
        return [.. Directory.GetDirectories(replicasPath)
            .Order(StringComparer.Ordinal)
            .Select(folder => new ReplicaChain(Path.GetFileName(folder), LogStore.ForDataFolder(folder)))
            .Where(chain => Directory.Exists(chain.Store.LogsFolder) && Path.GetFullPath(chain.Store.LogsFolder).TrimEnd(Path.DirectorySeparatorChar) != own)];
    }

    /// <summary>
    /// The entries of one log in every chain: this process's up to <paramref name="ownTop"/> (default:
    /// what is durable), then each other replica's complete entries. Another replica's chain is
    /// read as far as it is whole: a line it is still writing, or one that does not read, ends it
    /// (its own start-up checks and <c>govshare log verify</c> judge it, not this reader).
    /// </summary>
    public IEnumerable<LogEntry> ReadAll(LogKind log, long? ownTop = null)
    {
        foreach (var entry in Own.Store.ReadEntries(log, 1, ownTop ?? Own.DurableSequence(log)))
        {
            yield return entry;
        }

        foreach (var chain in Others())
        {
            foreach (var entry in ReadWhole(chain.Store, log, 1))
            {
                yield return entry;
            }
        }
    }

    /// <summary>Another replica's entries from <paramref name="fromSeq"/> while they follow one another; stops at the first that does not (or does not read).</summary>
    public static IEnumerable<LogEntry> ReadWhole(LogStore store, LogKind log, long fromSeq) =>
        ReadWholeAt(store, log, fromSeq, resume: null).Select(e => e.Entry);

    /// <summary>
    /// <see cref="ReadWhole"/> with where each entry begins, reading on from <paramref name="resume"/>
    /// (<see cref="LogStore.ReadEntriesAt"/>) when that segment is still live.
    /// </summary>
    public static IEnumerable<(LogEntry Entry, LogPosition At)> ReadWholeAt(LogStore store, LogKind log, long fromSeq, LogPosition? resume)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var entries = store.ReadEntriesAt(log, fromSeq, long.MaxValue, resume).GetEnumerator();
        var expected = fromSeq;
        while (true)
        {
            try
            {
                if (!entries.MoveNext())
                {
                    yield break;
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                yield break;
            }

            if (entries.Current.Entry.Sequence != expected)
            {
                yield break;
            }

            expected++;
            yield return entries.Current;
        }
    }
}
