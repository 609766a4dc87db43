using System.Text.Json;

namespace GovShare.Node.Kernel;

/// <summary>
/// One change of node state as the change log carries it: the change-log record kind
/// (<c>registry-change</c>, …), the entity it changed (<c>department/&lt;credit code&gt;</c>,
/// <c>link/&lt;division&gt;</c>, …), who and when, and the change as JSON. Whatever a replayer
/// needs to redo the change must be in <see cref="Diff"/>: features put the entity's whole state
/// after the change there (an after-image), so a replay sets it rather than re-deciding it.
/// </summary>
public sealed record StateChange(string Kind, string Entity, string By, DateTimeOffset At, JsonElement Diff);

/// <summary>A change-log record handed back for replay, with its change-log sequence.</summary>
public sealed record StateRecord(long Sequence, string Kind, string Entity, string By, DateTimeOffset At, JsonElement Diff);

/// <summary>
/// Appends a state change to the change log and returns its sequence once it is on disk
/// (fsync'd). The logs feature implements it; the interface is here, below the features, so that
/// a feature under the logs in the layers (the registry, in Identity) can log its changes too.
/// </summary>
public interface IStateJournal
{
    /// <summary>Appends durably; the returned change-log sequence goes to <see cref="IStateStore.MarkApplied"/>.</summary>
    long Append(StateChange change);
}

/// <summary>
/// Redoes one kind of logged state change in the database: each feature supplies one for the
/// entities it owns, and the start-up replay (<c>Logs/ChangeLogReplay</c>) hands it every
/// change-log record newer than the state's watermark whose entity starts with <see cref="EntityPrefix"/>.
/// Replay runs inside <see cref="IStateStore.Write{T}(Func{T})"/>; it must be idempotent (a record
/// may be replayed onto a state that already holds it) and must not log again.
/// </summary>
public interface IStateReplayer
{
    /// <summary>The entities this replayer owns, e.g. <c>catalog/</c>.</summary>
    string EntityPrefix { get; }

    /// <summary>Applies the record's after-image; false when the record carries none (written before records carried it).</summary>
    bool Replay(StateRecord record);
}

/// <summary>
/// The seam between the features and where node state is kept: one gate and one transaction per
/// state change, the change-log watermark committed with it, actions run after the commit
/// (snapshot swaps), and the documents themselves (<see cref="Collection{T}"/>). Two
/// implementations: LiteDB (<see cref="StateStore"/>, the embedded default) and PostgreSQL
/// (<see cref="PostgresStateStore"/>, shared by several replicas of a node, issue 19), where the
/// gate is an advisory lock and the watermark a row per replica.
/// </summary>
public interface IStateStore
{
    /// <summary>The last change-log sequence whose change the state holds (0: none).</summary>
    long AppliedThrough { get; }

    /// <summary>
    /// True when the state is a cache of this process's change log, rebuilt from it after a crash
    /// (LiteDB); false when the state is durable on its own and shared (PostgreSQL), where the
    /// change log is the audit trail and replaying a replica's log could undo other replicas'
    /// later changes (Kernel/README.md).
    /// </summary>
    bool ReplaysChangeLog { get; }

    /// <summary>
    /// A collection of documents of this state, opened safely: call it from a store's constructor
    /// (the host constructs every store on one thread before serving). Name at least one index:
    /// the fields <see cref="IStateDocuments{T}.Where"/> looks documents up by.
    /// </summary>
    IStateDocuments<T> Collection<T>(string name, params System.Linq.Expressions.Expression<Func<T, object>>[] indexes)
        where T : class, new();

    /// <summary>Runs <paramref name="work"/> as one state change, joining the current one on this thread.</summary>
    T Write<T>(Func<T> work);

    /// <inheritdoc cref="Write{T}(Func{T})"/>
    void Write(Action work);

    /// <summary>Inside <see cref="Write{T}(Func{T})"/>: this change holds change-log record <paramref name="changeSequence"/>.</summary>
    void MarkApplied(long changeSequence);

    /// <summary>Runs <paramref name="action"/> once the current state change has committed (at once outside one).</summary>
    void AfterCommit(Action action);

    /// <summary>
    /// Registers how a store rebuilds its in-memory snapshot from its documents, for when another
    /// replica changed the state. Runs under the gate, so it never interleaves with a change; with
    /// LiteDB (one process) it is never called.
    /// </summary>
    void OnChangedElsewhere(Action reload);

    /// <summary>Throws when the state cannot be read (the readiness check).</summary>
    void Check();

    /// <summary>
    /// True on the one replica that does the node's background work (publication to the parent,
    /// and any periodic job whose effect must happen once per node, not once per replica). LiteDB:
    /// always (one process). PostgreSQL: the replica holding the leader advisory lock; when it
    /// dies its session ends, the lock is released and another replica takes it within
    /// <see cref="StateOptions.CatchUpInterval"/>. Check it at each run of the job, not once.
    /// </summary>
    bool IsLeader { get; }

    /// <summary>
    /// Writes a consistent copy of the whole state into <paramref name="targetFolder"/> (created if
    /// absent; the backend's own format) while the node serves, and returns the change-log sequence it
    /// holds (<see cref="AppliedThrough"/> at that instant): the copy has every change up to it and none
    /// after. For the online backup (issue 26). An implementation that cannot copy itself (a database
    /// server backed up with its own tools, e.g. pg_dump) throws <see cref="NotSupportedException"/>
    /// saying how to back it up instead.
    /// </summary>
    long Snapshot(string targetFolder);
}
