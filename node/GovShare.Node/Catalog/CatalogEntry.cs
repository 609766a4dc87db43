using Apache.Arrow;
using GovShare.Contract;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Catalog;

/// <summary>
/// One entry of a department's resource catalog (政务信息资源目录): the 13 core metadata
/// elements of the national compiling guide plus GovShare's extensions (item-level share and
/// masking, version, status). Client-supplied <see cref="Version"/>, <see cref="Status"/>
/// and the timestamps are ignored on write: the store owns them.
/// </summary>
public sealed record CatalogEntry
{
    /// <summary>Element 3: <c>&lt;classification&gt;/&lt;sequence&gt;</c>, see <see cref="Catalog.ResourceCode"/>.</summary>
    public required string ResourceCode { get; init; }

    /// <summary>Element 2.</summary>
    public required string Name { get; init; }

    /// <summary>Elements 4 and 5: the one source department (Art. 13). For a thematic entry, its lead department (Art. 9).</summary>
    public required DepartmentRef Provider { get; init; }

    /// <summary>Element 6.</summary>
    public string Abstract { get; init; } = "";

    /// <summary>Element 7.</summary>
    public ResourceFormat Format { get; init; }

    /// <summary>Element 8: the information items (信息项), in column order.</summary>
    public IReadOnlyList<InformationItem> Items { get; init; } = [];

    /// <summary>Element 9.</summary>
    public required ShareAttributes Share { get; init; }

    /// <summary>Element 10.</summary>
    public OpenAttributes Open { get; init; } = new(false, null);

    /// <summary>Element 11.</summary>
    public UpdateCycle UpdateCycle { get; init; }

    /// <summary>Element 12.</summary>
    public DateOnly ReleaseDate { get; init; }

    /// <summary>Element 13.</summary>
    public IReadOnlyList<string> RelatedResourceCodes { get; init; } = [];

    /// <summary>Only for thematic resources (class 2): the items of other departments' resources it is built from.</summary>
    public ThematicAttributes? Thematic { get; init; }

    /// <summary>
    /// Extension element: the largest push this resource takes, in bytes, when it needs more than
    /// the node's <c>Exchange:MaxPushBytes</c> (a province-wide base resource replaced whole);
    /// null: the node's default. At most <see cref="CatalogLimits.MaxPushBytes"/>.
    /// </summary>
    public long? MaxPushBytes { get; init; }

    /// <summary>
    /// Extension element: how far the sharing catalog carries this resource (Art. 21). Null or
    /// <see cref="SharingScope.Province"/>: within the province's tree only; <see cref="SharingScope.National"/>:
    /// the province also publishes it to the national node, and departments outside the province
    /// (national ones) may use it through the national link. Set by the provider, like the share type.
    /// </summary>
    public SharingScope? Scope { get; init; }

    /// <summary>Element 1, derived from the resource code: the part before <c>/</c>.</summary>
    public string ClassificationCode => Catalog.ResourceCode.ClassificationOf(ResourceCode);

    /// <summary>Element 1's top level, derived from the class digit; null for a malformed code.</summary>
    public ResourceCategory? Category => Catalog.ResourceCode.CategoryOf(ResourceCode);

    /// <summary>Store-owned: increases by one on every write; the ETag is <c>"&lt;version&gt;"</c>.</summary>
    public long Version { get; init; }

    /// <summary>Store-owned.</summary>
    public EntryStatus Status { get; init; }

    /// <summary>Store-owned: first registration.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Store-owned: last maintenance (any write, even one that changes nothing, Art. 18).</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// Store-owned: the open share-attribute review, if any (Art. 17). While it is open, <see cref="Share"/>
    /// holds the terms in force and <see cref="ShareReview.Proposed"/> the reported change.
    /// </summary>
    public ShareReview? ShareReview { get; init; }

    /// <summary>Store-owned: the office's last decision on a share-attribute change (Art. 17), kept so the department sees why.</summary>
    public ShareDecision? LastShareDecision { get; init; }

    /// <summary>
    /// The department's secrecy review (保密审查, Art. 34) of this resource before it is shared:
    /// when, by whom, under which document. Where <c>Catalog:SecrecyReviewRequired</c> is set, a
    /// resource without one is not pulled (403 <c>secrecy-review-missing</c>).
    /// </summary>
    public SecrecyReview? SecrecyReview { get; init; }

    /// <summary>
    /// The item <paramref name="nameOrId"/> designates, after NFKC normalisation, trimming and
    /// case folding of both sides (so full-width, compatibility and case variants of a name or
    /// id resolve to the same item); null when none does.
    /// </summary>
    public InformationItem? ResolveItem(string nameOrId)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        var key = ItemNames.Canonical(nameOrId);
        if (key.Length == 0)
        {
            return null;
        }

        // Every pull that names its items resolves each name here: the items' canonical forms are
        // computed once per item list (not per call and item), an id before any name as always.
        var index = ItemIndexes.GetValue(Items, ItemIndex.Build);
        return index.ById.TryGetValue(key, out var byId) ? byId
            : index.ByName.TryGetValue(key, out var byName) ? byName
            : null;
    }

    /// <summary>
    /// The canonical-id and canonical-name look-ups of an item list, kept beside the list rather
    /// than in the record: a field would enter the record's equality and be copied by <c>with</c>
    /// (another list gets its own index; an entry's list is never changed in place).
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IReadOnlyList<InformationItem>, ItemIndex> ItemIndexes = [];

    private sealed class ItemIndex
    {
        public Dictionary<string, InformationItem> ById { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, InformationItem> ByName { get; } = new(StringComparer.Ordinal);

        public static ItemIndex Build(IReadOnlyList<InformationItem> items)
        {
            var index = new ItemIndex();
            foreach (var item in items)
            {
                // TryAdd keeps the first item of a canonical form, as the list's order decided before.
                index.ById.TryAdd(ItemNames.Canonical(item.Id), item);
                index.ByName.TryAdd(ItemNames.Canonical(item.Name), item);
            }

            return index;
        }
    }

    /// <summary>
    /// The Arrow schema a provider's push must have: one field per item, in order, named by
    /// the item's <b>name</b> (what departments call their columns) with the item's type and
    /// nullability; each field's metadata carries <c>govshare:item-id</c>. Pulls address items
    /// by id (see <see cref="ResolveItem"/>). Throws for an entry that has not passed validation.
    /// </summary>
    public Schema ArrowSchema()
    {
        var builder = new Schema.Builder();
        foreach (var item in Items)
        {
            var type = ItemDataType.Parse(item.DataType);
            List<KeyValuePair<string, string>> metadata = [new(ItemIdMetadataKey, item.Id)];
            if (item.Length is { } length)
            {
                // The store checks pushed values against it (characters for utf8, bytes for binary).
                metadata.Add(new(ItemLengthMetadataKey, length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }

            builder.Field(new Field(item.Name, type.ToArrowType(), item.Nullable, metadata));
        }

        builder.Metadata(ResourceCodeMetadataKey, ResourceCode);
        return builder.Build();
    }

    /// <summary>Field metadata key carrying the item's length (utf8: characters; binary: bytes), when the catalog sets one.</summary>
    public const string ItemLengthMetadataKey = "govshare:item-length";

    /// <summary>Field metadata key carrying the stable item id.</summary>
    public const string ItemIdMetadataKey = "govshare:item-id";

    /// <summary>Schema metadata key carrying the resource code.</summary>
    public const string ResourceCodeMetadataKey = "govshare:resource-code";
}

/// <summary>A department, by its jurisdiction and unified social credit code.</summary>
public sealed record DepartmentRef(string DivisionCode, string CreditCode, string? Name = null)
{
    /// <summary>True when both codes equal the other's (names are display only).</summary>
    public bool SameAs(string divisionCode, string? creditCode) =>
        string.Equals(DivisionCode, divisionCode, StringComparison.Ordinal)
        && string.Equals(CreditCode, creditCode, StringComparison.Ordinal);

    /// <summary>Key used in storage and queries: <c>&lt;division&gt;/&lt;credit-code&gt;</c>.</summary>
    public string Key => $"{DivisionCode}/{CreditCode}";
}

/// <summary>One information item (信息项): a column of the resource.</summary>
/// <param name="Id">Stable id, <c>[a-z][a-z0-9_]{0,63}</c>; never reused for another meaning.</param>
/// <param name="Name">Display name, e.g. 公民身份号码; unique in the entry after canonicalisation.</param>
/// <param name="DataType">One of <see cref="ItemDataType"/>'s names, e.g. <c>utf8</c>, <c>decimal128(18,2)</c>.</param>
/// <param name="Length">Maximum length in characters (utf8) or bytes (binary), when bounded.</param>
/// <param name="Nullable">Whether the column may hold nulls.</param>
/// <param name="Shareable">False keeps the item out of the sharing catalog and of every grant.</param>
/// <param name="Sensitivity">How sensitive the item is.</param>
/// <param name="Masking">Default desensitisation (Art. 26) a grant starts from; null means none.</param>
/// <param name="Key">
/// Part of the resource's key: together the key items name one row (a person by 公民身份号码, a
/// licence by its number). A merge push matches rows by them; a key item is never nullable.
/// </param>
public sealed record InformationItem(
    string Id,
    string Name,
    string DataType,
    int? Length = null,
    bool Nullable = true,
    bool Shareable = true,
    Sensitivity Sensitivity = Sensitivity.Public,
    MaskingRule? Masking = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] bool Key = false);

/// <summary>Element 9: share type, its condition or reason, and how the resource is shared.</summary>
/// <param name="Type">The share type.</param>
/// <param name="Condition">Mandatory for <see cref="ShareType.Conditional"/>: who may use it and on what terms.</param>
/// <param name="Reason">Mandatory for <see cref="ShareType.NotShared"/>: the legal ground (Art. 10).</param>
/// <param name="Method">How the resource is delivered.</param>
public sealed record ShareAttributes(ShareType Type, string? Condition = null, string? Reason = null, ShareMethod Method = ShareMethod.Api);

/// <summary>Element 10: whether the resource is open to the public, and on what conditions.</summary>
public sealed record OpenAttributes(bool OpenToPublic, string? Condition);

/// <summary>A thematic resource's references to items of other departments' resources (Art. 9).</summary>
public sealed record ThematicAttributes(IReadOnlyList<ItemReference> References);

/// <summary>An item of another resource, by resource code and item id.</summary>
public sealed record ItemReference(string ResourceCode, string ItemId);

/// <summary>
/// An open review of changed share attributes, due 30 working days after the change was reported
/// (Art. 17). <see cref="Proposed"/> is the change waiting for the office: it applies only when
/// approved (null on reviews opened before changes waited, whose change applied at once).
/// <see cref="Scope"/> is a widening of <see cref="CatalogEntry.Scope"/> to <see cref="SharingScope.National"/>
/// waiting beside it (issue 24: exposure beyond the province waits for the office like a share
/// change; narrowing applies at once and never opens a review); null when the scope is not changing.
/// A scope-only review proposes the share attributes in force (<see cref="From"/> equals <see cref="To"/>).
/// </summary>
public sealed record ShareReview(DateTimeOffset OpenedAt, DateOnly Due, ShareType From, ShareType To, bool DueProvisional = false, ShareAttributes? Proposed = null, SharingScope? Scope = null);

/// <summary>The office's decision on a share-attribute change: approved (applied) or rejected with its reason; <see cref="Scope"/> the scope it decided on, if the review proposed one.</summary>
public sealed record ShareDecision(bool Approved, ShareAttributes? Proposed, string By, DateTimeOffset At, DateOnly Due, bool Late, string? Reason, SharingScope? Scope = null);

/// <summary>A secrecy review (保密审查, Art. 34): the day, the reviewer (person or office) and the document that records it.</summary>
public sealed record SecrecyReview(DateOnly ReviewedOn, string Reviewer, string? Reference = null);

/// <summary>Top-level classes of the classification (class digit 1, 2, 3).</summary>
public enum ResourceCategory
{
    /// <summary>Class 1: population, legal persons, natural resources and geospatial, social credit, e-licences.</summary>
    Base = 1,

    /// <summary>Class 2: health, social security, food and drug safety, …; built by several departments.</summary>
    Thematic = 2,

    /// <summary>Class 3: a department's own resources.</summary>
    Departmental = 3,
}

/// <summary>How far a resource is shared up the tree (<see cref="CatalogEntry.Scope"/>).</summary>
public enum SharingScope
{
    /// <summary>Within the province's tree: its departments and its prefectures' (the default).</summary>
    Province,

    /// <summary>Also published to the national node and open to departments outside the province through it.</summary>
    National,
}

/// <summary>Share types (Art. 10).</summary>
public enum ShareType
{
    Unconditional,
    Conditional,
    NotShared,
}

/// <summary>How a shared resource is delivered.</summary>
public enum ShareMethod
{
    /// <summary>Pulled through the exchange API (Arrow IPC stream).</summary>
    Api,

    /// <summary>Delivered as a file (dataset version).</summary>
    File,

    /// <summary>Database-to-database exchange, set up out of band.</summary>
    Database,
}

/// <summary>Element 7.</summary>
public enum ResourceFormat
{
    Database,
    ElectronicDocument,
    Spreadsheet,
    Image,
    Streaming,
    SelfDescribing,
}

/// <summary>Element 11.</summary>
public enum UpdateCycle
{
    RealTime,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    HalfYearly,
    Yearly,
}

/// <summary>Lifecycle of an entry; a retired one leaves the sharing catalog but keeps its history.</summary>
public enum EntryStatus
{
    Active,
    Retired,
}

/// <summary>How sensitive an item is; drives the default masking and grant review.</summary>
public enum Sensitivity
{
    Public,
    Internal,
    Sensitive,
}
