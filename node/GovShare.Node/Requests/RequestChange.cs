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
    string? Detail = null);

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

/// <summary>The change stream as the <c>request_changes</c> LiteDB collection, keyed by sequence.</summary>
public sealed class LiteDbRequestChangeSink : IRequestChangeSink
{
    private readonly ILiteCollection<ChangeDocument> _changes;

    public LiteDbRequestChangeSink(LiteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _changes = database.GetCollection<ChangeDocument>("request_changes");
        _changes.EnsureIndex(d => d.SubjectId);
    }

    public RequestChange Append(RequestChange change)
    {
        ArgumentNullException.ThrowIfNull(change);

        // Writers hold the requests ledger's lock, so max+1 is gap-free and unique.
        var last = _changes.Query().OrderByDescending(d => d.Sequence).Limit(1).FirstOrDefault()?.Sequence ?? 0;
        var stored = change with { Sequence = last + 1 };
        _changes.Insert(new ChangeDocument { Sequence = stored.Sequence, SubjectId = stored.SubjectId, Json = JsonSerializer.Serialize(stored, CatalogJson.Options) });
        return stored;
    }

    public IReadOnlyList<RequestChange> Read(long afterSequence, int limit, string? subjectId = null)
    {
        var query = _changes.Query().Where(d => d.Sequence > afterSequence);
        if (subjectId is not null)
        {
            query = query.Where(d => d.SubjectId == subjectId);
        }

        return query.OrderBy(d => d.Sequence).Limit(Math.Clamp(limit, 1, 10_000)).ToList()
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
/// The one writer's gate of the requests feature: every write of requests, grants and
/// disputes runs under its lock, in one LiteDB transaction with its change records, so a
/// transition and its record are written together or not at all.
/// </summary>
public sealed class RequestLedger(NodeDataFolder data, IRequestChangeSink changes)
{
    private readonly Lock _gate = new();

    public IRequestChangeSink Changes => changes;

    /// <summary>Runs <paramref name="work"/> under the lock in a transaction (joining the caller's, if the thread has one).</summary>
    public T Write<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        lock (_gate)
        {
            var db = data.Database;
            var own = db.BeginTrans();
            try
            {
                var result = work();
                if (own)
                {
                    db.Commit();
                }

                return result;
            }
            catch
            {
                if (own)
                {
                    db.Rollback();
                }

                throw;
            }
        }
    }

    /// <summary>Appends a transition record; call inside <see cref="Write{T}"/>.</summary>
    public void Record(RequestSubject subject, string id, string resourceCode, Enum? from, Enum to, string by, DateTimeOffset at, string? detail = null) =>
        changes.Append(new RequestChange(0, subject, id, resourceCode, from is null ? null : Name(from), Name(to), by, at, detail));

    private static string Name(Enum value)
    {
        var text = value.ToString();
        return char.ToLowerInvariant(text[0]) + text[1..];
    }
}
