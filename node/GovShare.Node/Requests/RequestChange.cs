using System.Text.Json;
using System.Text.Json.Serialization;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Requests;

/// <summary>What a change record is about.</summary>
public enum RequestSubject
{
    Request,
    Grant,
    Dispute,

    /// <summary>An onward-sharing consent (Art. 33).</summary>
    Consent,

    /// <summary>A complaint (Art. 29).</summary>
    Complaint,
}

/// <summary>
/// A change record of the requests feature (Art. 28 change log): one status transition of a
/// share request, grant or dispute — who, when, from what to what, and why.
/// <see cref="Sequence"/> orders the stream, gap-free, from 1.
/// </summary>
public sealed record RequestChange(
    long Sequence,
    RequestSubject Subject,
    string SubjectId,
    string ResourceCode,
    string? From,
    string To,
    string By,
    DateTimeOffset At,
    string? Detail = null)
{
    /// <summary>
    /// The subject as stored by this transition (its after-image, as JSON): not part of the change
    /// stream, but written to the change log so that a replay can set the subject exactly as acknowledged.
    /// </summary>
    [JsonIgnore]
    public JsonElement? After { get; init; }
}

/// <summary>
/// Where request, grant and dispute transitions go; the same seam as the catalog's
/// <see cref="ICatalogChangeSink"/>. Called inside the writer's LiteDB transaction, so a sink on
/// the same database commits or rolls back with the change. The logs feature will provide the
/// hash-chained one.
/// </summary>
public interface IRequestChangeSink
{
    /// <summary>Appends a change; the returned record carries its assigned sequence.</summary>
    RequestChange Append(RequestChange change);

    /// <summary>Changes after <paramref name="afterSequence"/>, ascending, at most <paramref name="limit"/>; optionally of one subject id.</summary>
    IReadOnlyList<RequestChange> Read(long afterSequence, int limit, string? subjectId = null);
}

/// <summary>The change stream as the <c>request_changes</c> collection of the node's state, keyed by sequence.</summary>
public sealed class StateRequestChangeSink : IRequestChangeSink
{
    private readonly IStateDocuments<ChangeDocument> _changes;

    public StateRequestChangeSink(NodeDataFolder data)
    {
        ArgumentNullException.ThrowIfNull(data);
        _changes = data.Collection<ChangeDocument>("request_changes", d => d.SubjectId);
    }

    public RequestChange Append(RequestChange change)
    {
        ArgumentNullException.ThrowIfNull(change);

        // Writers hold the state's gate (across replicas with PostgreSQL), so max+1 is gap-free and unique.
        var stored = change with { Sequence = _changes.MaxKey() + 1 };
        _changes.Put(new ChangeDocument { Sequence = stored.Sequence, SubjectId = stored.SubjectId, Json = JsonSerializer.Serialize(stored, CatalogJson.Options) });
        return stored;
    }

    /// <summary>Puts back a transition the database lost, under its own sequence (the change-log replay).</summary>
    internal void Restore(RequestChange change) =>
        _changes.Put(new ChangeDocument { Sequence = change.Sequence, SubjectId = change.SubjectId, Json = JsonSerializer.Serialize(change, CatalogJson.Options) });

    public IReadOnlyList<RequestChange> Read(long afterSequence, int limit, string? subjectId = null)
    {
        return _changes.After(afterSequence, Math.Clamp(limit, 1, 10_000), subjectId is null ? null : d => d.SubjectId, subjectId)
            .Select(d => JsonSerializer.Deserialize<RequestChange>(d.Json, CatalogJson.Options)!)
            .ToList();
    }

    internal sealed class ChangeDocument
    {
        [BsonId(autoId: false)]
        public long Sequence { get; set; }

        public string SubjectId { get; set; } = "";

        public string Json { get; set; } = "";
    }
}

/// <summary>
/// The writer's gate of the requests feature: every write of requests, grants and disputes runs
/// as one state change (<see cref="IStateStore.Write{T}(Func{T})"/>: the node's one gate and one
/// transaction) with its change records, so a transition and its record are written together or
/// not at all.
/// </summary>
public sealed class RequestLedger(NodeDataFolder data, IRequestChangeSink changes)
{
    public IRequestChangeSink Changes => changes;

    /// <summary>Runs <paramref name="work"/> as one state change (joining the caller's, if the thread is in one).</summary>
    public T Write<T>(Func<T> work) => data.State.Write(work);

    /// <summary>Appends a transition record with the subject as it now is (<paramref name="after"/>); call inside <see cref="Write{T}"/>.</summary>
    public void Record(RequestSubject subject, object after, string id, string resourceCode, Enum? from, Enum to, string by, DateTimeOffset at, string? detail = null) =>
        changes.Append(new RequestChange(0, subject, id, resourceCode, from is null ? null : Name(from), Name(to), by, at, detail)
        {
            After = JsonSerializer.SerializeToElement(after, after.GetType(), CatalogJson.Options),
        });

    private static string Name(Enum value)
    {
        var text = value.ToString();
        return char.ToLowerInvariant(text[0]) + text[1..];
    }
}
