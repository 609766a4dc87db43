using System.Collections.Frozen;
using System.Text.Json;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Hierarchy;

/// <summary>Which side of a link the other node is on.</summary>
public enum LinkRole
{
    /// <summary>The node above: prefecture → province (Art. 19).</summary>
    Parent,

    /// <summary>A node below: province → prefecture.</summary>
    Child,
}

/// <summary>A link to another node, registered by this node's operator.</summary>
public sealed class NodeLink
{
    /// <summary>The other node's division code; its certificate must say govshare:node/&lt;this&gt;.</summary>
    [BsonId]
    public string DivisionCode { get; set; } = "";

    public LinkRole Role { get; set; }

    /// <summary>The other node's exchange address (https://…), where forwarded requests go.</summary>
    public string Url { get; set; } = "";

    public DateTimeOffset LinkedAt { get; set; }

    /// <summary>
    /// The pinned key: SHA-256 (lower-case hex) of the other node's SubjectPublicKeyInfo, taken when
    /// the link was made or last re-keyed. Only a connection with this key is the linked node;
    /// another valid certificate naming the same division is not (null on links made before pinning:
    /// such a link is served as nothing until re-keyed).
    /// </summary>
    public string? KeySha256 { get; set; }
}

/// <summary>
/// The links of this node to its parent and children. A node certificate proves which node is
/// calling; the link is the operator's decision to exchange with it, and fixes what it may
/// vouch for: a child only for departments of its own subtree. Every link and unlink is a
/// <c>registry-change</c> change-log record with entity <c>link/&lt;division&gt;</c> carrying the
/// link as made (<see cref="NodeLinkReplayer"/> redoes it after a crash). Readers (routing, the
/// on-behalf-of check, the background services) read an in-memory snapshot, never the database.
/// </summary>
public sealed class NodeLinkRegistry
{
    /// <summary>The change-log entity of a link: <c>link/&lt;division&gt;</c>.</summary>
    public const string EntityPrefix = "link/";

    // Roles as words in the change log ("parent", "child"); numbers written before still read.
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };
    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly TimeProvider _time;
    private readonly IStateDocuments<NodeLink> _links;
    private readonly string _self;
    private volatile FrozenDictionary<string, NodeLink> _snapshot;

    public NodeLinkRegistry(NodeDataFolder data, Microsoft.Extensions.Options.IOptions<NodeOptions> options, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        _state = data.State;
        _journal = journal;
        _time = time;
        _self = options.Value.DivisionCode;
        _links = data.Collection<NodeLink>("links", l => l.Role);
        _snapshot = Load();
        _state.OnChangedElsewhere(Reload);
    }

    /// <summary>
    /// Raised after the snapshot changed (a link made, re-keyed or removed, here or by another replica), under the
    /// state gate: a handler must be quick. The node's connections to linked nodes drop those made under a pin
    /// that no longer holds (<see cref="LinkConnections"/>).
    /// </summary>
    public event Action? Changed;

    /// <summary>Registers a link; returns every error instead when it cannot be made.</summary>
    public IReadOnlyList<string> Link(string divisionCode, LinkRole role, string url, string? keySha256, out NodeLink? link, string by = "operator")
    {
        var errors = new List<string>();
        link = null;
        if (!IsKeySha256(keySha256))
        {
            errors.Add($"keySha256: '{keySha256}' is not the SHA-256 of a key (64 hex digits).");
        }

        if (!DivisionCode.IsValid(divisionCode))
        {
            errors.Add($"divisionCode: '{divisionCode}' is not a six-digit GB/T 2260 code.");
        }
        else if (divisionCode == _self)
        {
            errors.Add("divisionCode: a node cannot link to itself.");
        }
        else if (role == LinkRole.Child && !DivisionCode.IsWithin(divisionCode, _self))
        {
            errors.Add($"divisionCode: {divisionCode} is not inside this node's jurisdiction {_self}, so it cannot be a child.");
        }
        else if (role == LinkRole.Parent && !DivisionCode.IsWithin(_self, divisionCode))
        {
            errors.Add($"divisionCode: this node {_self} is not inside {divisionCode}, so it cannot be the parent.");
        }
        else if (role == LinkRole.Parent && Parent() is { } existing && existing.DivisionCode != divisionCode)
        {
            errors.Add($"role: this node already has parent {existing.DivisionCode}; unlink it first.");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || address.Scheme != Uri.UriSchemeHttps)
        {
            errors.Add($"url: '{url}' is not an https:// address.");
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        var made = new NodeLink { DivisionCode = divisionCode, Role = role, Url = url, LinkedAt = _time.GetUtcNow(), KeySha256 = keySha256!.ToLowerInvariant() };
        _state.Write(() =>
        {
            Apply(made, divisionCode);
            // Logged (fsync'd) inside the transaction, before it commits: acknowledged means logged.
            Journal("linked", divisionCode, made, by, made.LinkedAt);
        });
        link = made;
        return errors;
    }

    /// <summary>Pins a new key for an existing link (the peer node was re-keyed); null when there is no such link.</summary>
    public NodeLink? Rekey(string divisionCode, string keySha256, string by = "operator")
    {
        if (!IsKeySha256(keySha256) || Find(divisionCode) is not { } current)
        {
            return null;
        }

        var rekeyed = new NodeLink { DivisionCode = current.DivisionCode, Role = current.Role, Url = current.Url, LinkedAt = current.LinkedAt, KeySha256 = keySha256.ToLowerInvariant() };
        _state.Write(() =>
        {
            Apply(rekeyed, divisionCode);
            Journal("rekeyed", divisionCode, rekeyed, by, _time.GetUtcNow(), current.KeySha256);
        });
        return rekeyed;
    }

    /// <summary>True for 64 hex digits: the form of a pinned key.</summary>
    public static bool IsKeySha256(string? value) => value is { Length: 64 } && value.All(char.IsAsciiHexDigit);

    public bool Unlink(string divisionCode, string by = "operator") => _state.Write(() =>
    {
        if (!_snapshot.ContainsKey(divisionCode))
        {
            return false;
        }

        Apply(null, divisionCode);
        Journal("unlinked", divisionCode, null, by, _time.GetUtcNow());
        return true;
    });

    // Each link change is one registry-change record naming who made it (an operator, Art. 29),
    // with the link after the change: enough to redo it on replay.
    private void Journal(string action, string divisionCode, NodeLink? after, string by, DateTimeOffset at, string? previousKeySha256 = null) =>
        _state.MarkApplied(_journal.Append(new StateChange(DepartmentRegistry.ChangeKind, EntityPrefix + divisionCode, by, at,
            JsonSerializer.SerializeToElement(new LinkChange(action, after, previousKeySha256), Json))));

    public NodeLink? Find(string divisionCode) => _snapshot.GetValueOrDefault(divisionCode);

    public NodeLink? Parent() => _snapshot.Values.FirstOrDefault(l => l.Role == LinkRole.Parent);

    public IReadOnlyList<NodeLink> Children() => [.. _snapshot.Values.Where(l => l.Role == LinkRole.Child)];

    public IReadOnlyList<NodeLink> All() => [.. _snapshot.Values.OrderBy(l => l.DivisionCode, StringComparer.Ordinal)];

    /// <summary>The child whose subtree holds <paramref name="divisionCode"/>, if any.</summary>
    public NodeLink? ChildHolding(string divisionCode) =>
        _snapshot.Values.FirstOrDefault(c => c.Role == LinkRole.Child && DivisionCode.IsWithin(divisionCode, c.DivisionCode));

    /// <summary>Sets a link's stored state (null: unlinked); the snapshot follows at commit. Call inside a state write.</summary>
    internal void Apply(NodeLink? link, string divisionCode)
    {
        if (link is null)
        {
            _links.Delete(divisionCode);
        }
        else
        {
            _links.Put(link);
        }

        _state.AfterCommit(Reload);
    }

    private void Reload()
    {
        _snapshot = Load();
        Changed?.Invoke();
    }

    private FrozenDictionary<string, NodeLink> Load() => _links.All().ToFrozenDictionary(l => l.DivisionCode, StringComparer.Ordinal);
}

/// <summary>The <c>diff</c> of a link's registry-change record: what happened and the link after it.</summary>
/// <remarks>A re-key also names the key pinned before (<c>previousKeySha256</c>). Never rename a property: records already written keep their names.</remarks>
public sealed record LinkChange(string Action, NodeLink? Link, string? PreviousKeySha256 = null);

/// <summary>Redoes logged links and unlinks (the hierarchy's part of the change-log replay).</summary>
public sealed class NodeLinkReplayer(NodeLinkRegistry links) : IStateReplayer
{
    public string EntityPrefix => NodeLinkRegistry.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var change = record.Diff.Deserialize<LinkChange>(NodeLinkRegistry.Json);
        if (change is null || change.Action is not ("linked" or "rekeyed" or "unlinked"))
        {
            return false;
        }

        links.Apply(change.Link, record.Entity[NodeLinkRegistry.EntityPrefix.Length..]);
        return true;
    }
}
