using System.Text.Json;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Requests;

/// <summary>
/// The grants of this node, in LiteDB. Each grant is kept as its JSON with the fields it is
/// looked up by beside it. <see cref="Generation"/> moves on every change so a pull in
/// progress can notice a revocation between two record batches without a database read.
/// </summary>
public sealed class GrantStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ILiteCollection<GrantRecord> _grants;
    private long _generation;

    public GrantStore(NodeDataFolder data)
    {
        _grants = data.Database.GetCollection<GrantRecord>("grants");
        _grants.EnsureIndex(g => g.ResourceCode);
        _grants.EnsureIndex(g => g.UserCreditCode);
    }

    /// <summary>Changes whenever any grant changes.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public void Save(Grant grant)
    {
        _grants.Upsert(new GrantRecord
        {
            Id = grant.Id,
            ResourceCode = grant.ResourceCode,
            UserCreditCode = grant.UserCreditCode,
            Json = JsonSerializer.Serialize(grant, Json),
        });
        Interlocked.Increment(ref _generation);
    }

    public Grant? Find(string id) => _grants.FindById(id) is { } record ? Read(record) : null;

    /// <summary>Every grant a user holds on a resource, in any status.</summary>
    public IReadOnlyList<Grant> For(string userCreditCode, string resourceCode) =>
        _grants.Find(g => g.UserCreditCode == userCreditCode && g.ResourceCode == resourceCode).Select(Read).ToList();

    public IReadOnlyList<Grant> ForResource(string resourceCode) =>
        _grants.Find(g => g.ResourceCode == resourceCode).Select(Read).ToList();

    public IReadOnlyList<Grant> ForUser(string userCreditCode) =>
        _grants.Find(g => g.UserCreditCode == userCreditCode).Select(Read).ToList();

    /// <summary>Every grant of the node, in any status (the operator's view).</summary>
    public IReadOnlyList<Grant> All() => _grants.FindAll().Select(Read).ToList();

    /// <summary>The user's grant that is effective now for the purpose, if any.</summary>
    public Grant? Effective(string userCreditCode, string resourceCode, string purpose, DateTimeOffset now) =>
        For(userCreditCode, resourceCode)
            .Where(g => g.Purpose == purpose && g.IsEffective(now))
            .OrderByDescending(g => g.CreatedAt)
            .FirstOrDefault();

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

    private sealed class GrantRecord
    {
        [BsonId]
        public string Id { get; set; } = "";
        public string ResourceCode { get; set; } = "";
        public string UserCreditCode { get; set; } = "";
        public string Json { get; set; } = "";
    }
}
