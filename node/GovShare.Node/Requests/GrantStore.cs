using System.Collections.Immutable;
using System.Text.Json;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Requests;

/// <summary>
/// The grants of this node: kept in the node's state (each grant as its JSON with the fields it is looked up
/// by beside it), read from an in-memory snapshot. A pull's grant check is a dictionary look-up
/// by (user, resource); the snapshot is replaced after each committed change
/// (<see cref="IStateStore.AfterCommit"/>), so a reader never sees a rolled-back grant.
/// <see cref="Generation"/> moves with every committed change so a pull in progress can notice a
/// revocation between two record batches without a database read.
/// </summary>
public sealed class GrantStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly IStateStore _state;
    private readonly IStateDocuments<GrantRecord> _grants;
    private volatile Snapshot _snapshot;
    private long _generation;

    public GrantStore(NodeDataFolder data)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _grants = data.Collection<GrantRecord>("grants", g => g.ResourceCode, g => g.UserCreditCode);
        _snapshot = Snapshot.Empty.With(_grants.All().Select(Read));
        // Another replica revoked or changed a grant: the pull check and Generation follow it.
        _state.OnChangedElsewhere(() =>
        {
            _snapshot = Snapshot.Empty.With(_grants.All().Select(Read));
            Interlocked.Increment(ref _generation);
        });
    }

    /// <summary>Changes whenever any grant changes.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Stores a grant as it is after a change; the snapshot follows when the state change commits.</summary>
    public void Save(Grant grant)
    {
        ArgumentNullException.ThrowIfNull(grant);
        _state.Write(() =>
        {
            _grants.Put(new GrantRecord
            {
                Id = grant.Id,
                ResourceCode = grant.ResourceCode,
                UserCreditCode = grant.UserCreditCode,
                Json = JsonSerializer.Serialize(grant, Json),
            });
            _state.AfterCommit(() =>
            {
                _snapshot = _snapshot.With([grant]);
                Interlocked.Increment(ref _generation);
            });
        });
    }

    public Grant? Find(string id) => _snapshot.ById.GetValueOrDefault(id);

    /// <summary>Every grant a user holds on a resource, in any status.</summary>
    public IReadOnlyList<Grant> For(string userCreditCode, string resourceCode) =>
        _snapshot.ByUserAndResource.GetValueOrDefault((userCreditCode, resourceCode), []);

    public IReadOnlyList<Grant> ForResource(string resourceCode) =>
        [.. _snapshot.ById.Values.Where(g => g.ResourceCode == resourceCode)];

    public IReadOnlyList<Grant> ForUser(string userCreditCode) =>
        [.. _snapshot.ById.Values.Where(g => g.UserCreditCode == userCreditCode)];

    /// <summary>Every grant of the node, in any status (the operator's view).</summary>
    public IReadOnlyList<Grant> All() => [.. _snapshot.ById.Values];

    /// <summary>The user's grant that is effective now for the purpose, if any.</summary>
    public Grant? Effective(string userCreditCode, string resourceCode, string purpose, DateTimeOffset now)
    {
        Grant? best = null;
        foreach (var grant in For(userCreditCode, resourceCode))
        {
            if (grant.Purpose == purpose && grant.IsEffective(now) && (best is null || grant.CreatedAt > best.CreatedAt))
            {
                best = grant;
            }
        }

        return best;
    }

    /// <summary>Sets a grant's status (revoke, suspend, reinstate); false when there is no such grant.</summary>
    public bool SetStatus(string id, GrantStatus status, string? reason, DateTimeOffset now)
    {
        if (Find(id) is not { } grant)
        {
            return false;
        }

        Save(grant with { Status = status, StatusReason = reason, StatusChangedAt = now });
        return true;
    }

    private static Grant Read(GrantRecord record) =>
        JsonSerializer.Deserialize<Grant>(record.Json, Json) ?? throw new InvalidDataException($"Grant {record.Id} is unreadable.");

    /// <summary>Every grant by id, and by (user, resource) for the pull's check. Immutable: replaced whole.</summary>
    private sealed record Snapshot(ImmutableDictionary<string, Grant> ById, ImmutableDictionary<(string User, string Resource), ImmutableArray<Grant>> ByUserAndResource)
    {
        public static readonly Snapshot Empty = new(ImmutableDictionary.Create<string, Grant>(StringComparer.Ordinal), ImmutableDictionary<(string, string), ImmutableArray<Grant>>.Empty);

        public Snapshot With(IEnumerable<Grant> grants)
        {
            var byId = ById.ToBuilder();
            var byPair = ByUserAndResource.ToBuilder();
            foreach (var grant in grants)
            {
                var key = (grant.UserCreditCode, grant.ResourceCode);
                var held = byPair.GetValueOrDefault(key, []);
                if (byId.TryGetValue(grant.Id, out var old))
                {
                    held = held.Remove(old);
                }

                byId[grant.Id] = grant;
                byPair[key] = held.Add(grant);
            }

            return new Snapshot(byId.ToImmutable(), byPair.ToImmutable());
        }
    }

    private sealed class GrantRecord
    {
        [BsonId]
        public string Id { get; set; } = "";
        public string ResourceCode { get; set; } = "";
        public string UserCreditCode { get; set; } = "";
        public string Json { get; set; } = "";
    }
}
