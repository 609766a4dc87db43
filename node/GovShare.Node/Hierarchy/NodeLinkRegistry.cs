using GovShare.Node.Kernel;
using LiteDB;

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
/// vouch for: a child only for departments of its own subtree.
/// </summary>
public sealed class NodeLinkRegistry(NodeDataFolder data, Microsoft.Extensions.Options.IOptions<NodeOptions> options, TimeProvider time)
{
    private readonly ILiteCollection<NodeLink> _links = data.Database.GetCollection<NodeLink>("links");
    private readonly string _self = options.Value.DivisionCode;

    /// <summary>Registers a link; returns every error instead when it cannot be made.</summary>
    public IReadOnlyList<string> Link(string divisionCode, LinkRole role, string url, string? keySha256, out NodeLink? link)
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

        link = new NodeLink { DivisionCode = divisionCode, Role = role, Url = url, LinkedAt = time.GetUtcNow(), KeySha256 = keySha256!.ToLowerInvariant() };
        _links.Upsert(link);
        return errors;
    }

    /// <summary>Pins a new key for an existing link (the peer node was re-keyed); null when there is no such link.</summary>
    public NodeLink? Rekey(string divisionCode, string keySha256, out string? previous)
    {
        previous = null;
        if (!IsKeySha256(keySha256) || _links.FindById(divisionCode) is not { } link)
        {
            return null;
        }

        previous = link.KeySha256;
        link.KeySha256 = keySha256.ToLowerInvariant();
        _links.Update(link);
        return link;
    }

    /// <summary>True for 64 hex digits: the form of a pinned key.</summary>
    public static bool IsKeySha256(string? value) => value is { Length: 64 } && value.All(char.IsAsciiHexDigit);

    public bool Unlink(string divisionCode) => _links.Delete(divisionCode);

    public NodeLink? Find(string divisionCode) => _links.FindById(divisionCode);

    public NodeLink? Parent() => _links.FindOne(l => l.Role == LinkRole.Parent);

    public IReadOnlyList<NodeLink> Children() => _links.Find(l => l.Role == LinkRole.Child).ToList();

    public IReadOnlyList<NodeLink> All() => _links.FindAll().OrderBy(l => l.DivisionCode, StringComparer.Ordinal).ToList();

    /// <summary>The child whose subtree holds <paramref name="divisionCode"/>, if any.</summary>
    public NodeLink? ChildHolding(string divisionCode) =>
        Children().FirstOrDefault(c => DivisionCode.IsWithin(divisionCode, c.DivisionCode));
}
