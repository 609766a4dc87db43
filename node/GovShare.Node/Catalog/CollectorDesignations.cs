using System.Collections.Immutable;
using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Catalog;

/// <summary>
/// The office's designation of the one collecting department of a datum (Art. 13, 一数一源): the
/// datum is an information item as the duplicate check knows it (canonical name and data type,
/// <see cref="ItemNames.CollectionKey"/>); every other department holding it must obtain it by sharing.
/// </summary>
public sealed record CollectorDesignation(string Key, string ItemName, string DataType, DepartmentRef Collector, string Reason, string By, DateTimeOffset At);

/// <summary>
/// The designations of this node's office (<c>collector_designations</c>). Designating (or
/// re-designating) a datum is a <c>registry-change</c> change-log record with entity
/// <c>designation/&lt;item name&gt;|&lt;type&gt;</c> and the designation made (<see cref="CollectorDesignationReplayer"/>).
/// A designation may name a department of any node below this one: the tree-wide duplicate list
/// (Hierarchy) reads them.
/// </summary>
public sealed class CollectorDesignations
{
    /// <summary>The change-log entity of a designation.</summary>
    public const string EntityPrefix = "designation/";

    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly IStateDocuments<DesignationDocument> _designations;
    private readonly TimeProvider _time;
    private readonly string _self;
    private volatile ImmutableDictionary<string, CollectorDesignation> _snapshot;

    public CollectorDesignations(NodeDataFolder data, Microsoft.Extensions.Options.IOptions<NodeOptions> options, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        _state = data.State;
        _journal = journal;
        _time = time;
        _self = options.Value.DivisionCode;
        _designations = data.Collection<DesignationDocument>("collector_designations", d => d.Credit);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    /// <summary>Designates the collecting department of a datum; returns every error instead when it cannot.</summary>
    public IReadOnlyList<string> Designate(string? itemName, string? dataType, string? divisionCode, string? creditCode, string? reason, string by, out CollectorDesignation? designation)
    {
        designation = null;
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(itemName) || itemName.Length > CatalogLimits.MaxDepartmentNameLength)
        {
            errors.Add($"itemName: the datum's item name is required (at most {CatalogLimits.MaxDepartmentNameLength} characters).");
        }

        if (!ItemDataType.TryParse(dataType, out var type))
        {
            errors.Add($"dataType: '{dataType}' is not an item data type (utf8, int64, date32, …).");
        }

        if (!DivisionCode.IsValid(divisionCode) || !DivisionCode.IsWithin(divisionCode!, _self))
        {
            errors.Add($"divisionCode: '{divisionCode}' is not a division inside this node's jurisdiction {_self}.");
        }

        if (!CreditCode.IsValid(creditCode))
        {
            errors.Add($"creditCode: '{creditCode}' is not a unified social credit code.");
        }

        if (string.IsNullOrWhiteSpace(reason) || reason.Length > CatalogLimits.MaxConditionLength)
        {
            errors.Add($"reason: say why this department collects the datum (its duty, the legal basis; at most {CatalogLimits.MaxConditionLength} characters).");
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        var item = new InformationItem("datum", itemName!.Trim(), type!.ToString());
        var made = new CollectorDesignation(ItemNames.CollectionKey(item), item.Name, item.DataType, new DepartmentRef(divisionCode!, creditCode!), reason!.Trim(), by, _time.GetUtcNow());
        _state.Write(() =>
        {
            var before = Find(made.Key);
            Apply(made);
            _state.MarkApplied(_journal.Append(new StateChange(DepartmentRegistry.ChangeKind, EntityPrefix + made.ItemName + "|" + made.DataType, by, made.At,
                JsonSerializer.SerializeToElement(new DesignationRecord(before is null ? "designated" : "redesignated", made, before?.Collector), CatalogJson.Options))));
        });
        designation = made;
        return errors;
    }

    public IReadOnlyList<CollectorDesignation> All() => [.. _snapshot.Values.OrderBy(d => d.ItemName, StringComparer.Ordinal)];

    /// <summary>The designation of a datum by its collection key, if any.</summary>
    public CollectorDesignation? Find(string key) => _snapshot.GetValueOrDefault(key);

    /// <summary>Stores a designation; the snapshot follows at commit. Call inside a state write.</summary>
    internal void Apply(CollectorDesignation designation)
    {
        _designations.Put(new DesignationDocument { Id = designation.Key, Credit = designation.Collector.CreditCode, Json = JsonSerializer.Serialize(designation, CatalogJson.Options) });
        _state.AfterCommit(() => _snapshot = Load());
    }

    private ImmutableDictionary<string, CollectorDesignation> Load() =>
        _designations.All().Select(d => JsonSerializer.Deserialize<CollectorDesignation>(d.Json, CatalogJson.Options)!).ToImmutableDictionary(d => d.Key, StringComparer.Ordinal);

    internal sealed class DesignationDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Credit { get; set; } = "";

        public string Json { get; set; } = "";
    }
}

/// <summary>The <c>diff</c> of a designation's record; <c>previous</c> names the collector it replaced. Never rename a property.</summary>
public sealed record DesignationRecord(string Action, CollectorDesignation Designation, DepartmentRef? Previous);

/// <summary>Redoes logged designations (their part of the change-log replay).</summary>
public sealed class CollectorDesignationReplayer(CollectorDesignations designations) : IStateReplayer
{
    public string EntityPrefix => CollectorDesignations.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (System.Text.Json.JsonSerializer.Deserialize<DesignationRecord>(record.Diff, CatalogJson.Options) is not { Designation: { } designation })
        {
            return false;
        }

        designations.Apply(designation);
        return true;
    }
}
