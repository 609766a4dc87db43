using System.Collections.Immutable;
using GovShare.Node.Calendar;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Catalog;

/// <summary>One department a duty change affects, and when it updated its catalog afterwards (null: not yet).</summary>
public sealed record AffectedDepartment(DepartmentRef Department, DateTimeOffset? CatalogUpdatedAt = null);

/// <summary>
/// A change in law or in departments' duties, recorded by the office (Art. 11). It starts, for
/// each affected department, the deadline to update its catalog: <see cref="Due"/>, 15 working
/// days after the day it was recorded. The department's first accepted catalog write after the
/// record (create, update, import or retire of its own entries) is the update.
/// </summary>
public sealed record DutyChange(
    string Id,
    string Description,
    string? LegalBasis,
    DateTimeOffset RecordedAt,
    string RecordedBy,
    DateOnly Due,
    bool DueProvisional,
    IReadOnlyList<AffectedDepartment> Departments);

/// <summary>An Art. 11 deadline of one department as of a day: met, late (updated after the due day), or overdue (not updated, due day passed).</summary>
public sealed record CatalogUpdateDeadline(string DutyChange, string Description, DepartmentRef Department, DateOnly Due, bool DueProvisional, DateTimeOffset? UpdatedAt, bool Met, bool Late, bool Overdue);

/// <summary>
/// The office's record of duty and law changes (Art. 11) and the catalog-update deadlines they
/// start, in the node's state (<c>duty_changes</c>). Recording a change and each department's
/// update are <c>registry-change</c> change-log records with entity <c>duty-change/&lt;id&gt;</c> and
/// the change as it stands after them (<see cref="DutyChangeReplayer"/> redoes them).
/// </summary>
public sealed class DutyChangeRegister
{
    /// <summary>Working days a department has to update its catalog after a change in law or duties (Art. 11).</summary>
    public const int CatalogUpdateWorkingDays = 15;

    /// <summary>The change-log entity of a duty change: <c>duty-change/&lt;id&gt;</c>.</summary>
    public const string EntityPrefix = "duty-change/";

    /// <summary>The most departments one duty change names.</summary>
    public const int MaxDepartments = 500;

    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly IStateDocuments<DutyChangeDocument> _changes;
    private readonly DepartmentRegistry _registry;
    private readonly WorkingDayCalendar _calendar;
    private readonly TimeProvider _time;
    private volatile ImmutableList<DutyChange> _snapshot;

    public DutyChangeRegister(NodeDataFolder data, CatalogStore catalog, DepartmentRegistry registry, WorkingDayCalendar calendar, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(catalog);
        _state = data.State;
        _journal = journal;
        _registry = registry;
        _calendar = calendar;
        _time = time;
        _changes = data.Collection<DutyChangeDocument>("duty_changes", d => d.RecordedAt);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
        catalog.DepartmentWrote += CatalogUpdated;
    }

    /// <summary>Records a duty change for the registered departments named by credit code; returns every error instead when it cannot.</summary>
    public IReadOnlyList<string> Record(string? description, string? legalBasis, IReadOnlyList<string>? creditCodes, string by, out DutyChange? recorded)
    {
        recorded = null;
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(description))
        {
            errors.Add("description: say what changed in law or duties.");
        }
        else if (description.Length > CatalogLimits.MaxConditionLength)
        {
            errors.Add($"description: at most {CatalogLimits.MaxConditionLength} characters.");
        }

        if (legalBasis?.Length > CatalogLimits.MaxConditionLength)
        {
            errors.Add($"legalBasis: at most {CatalogLimits.MaxConditionLength} characters.");
        }

        var departments = new List<AffectedDepartment>();
        if (creditCodes is null || creditCodes.Count == 0)
        {
            errors.Add("departments: name at least one affected department (credit code).");
        }
        else if (creditCodes.Count > MaxDepartments)
        {
            errors.Add($"departments: {creditCodes.Count} departments; at most {MaxDepartments}.");
        }
        else
        {
            foreach (var code in creditCodes.Distinct(StringComparer.Ordinal))
            {
                // Only departments of this node: a deadline nobody here can meet would only ever be missed.
                if (_registry.Find(code ?? "") is { } department)
                {
                    departments.Add(new AffectedDepartment(new DepartmentRef(department.DivisionCode, department.CreditCode, department.Name)));
                }
                else
                {
                    errors.Add($"departments: '{code}' is not a department registered at this node.");
                }
            }
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        recorded = _state.Write(() =>
        {
            var now = _time.GetUtcNow();
            // A record is never refused for want of next year's holiday file: the due day is then provisional (weekends only).
            var due = _calendar.AddWorkingDays(WorkingDayCalendar.ToChinaDate(now), CatalogUpdateWorkingDays, out var provisional);
            var change = new DutyChange($"dc-{_changes.All().Count + 1:D4}", description!.Trim(), string.IsNullOrWhiteSpace(legalBasis) ? null : legalBasis.Trim(), now, by, due, provisional, departments);
            Apply(change);
            Journal("recorded", change, by, now);
            return change;
        });
        return errors;
    }

    public IReadOnlyList<DutyChange> All() => _snapshot;

    public DutyChange? Find(string id) => _snapshot.FirstOrDefault(c => c.Id == id);

    /// <summary>Every department's Art. 11 deadline as of <paramref name="today"/> (China time), due first.</summary>
    public IReadOnlyList<CatalogUpdateDeadline> Deadlines(DateOnly today) =>
        [.. _snapshot.SelectMany(c => c.Departments.Select(d =>
        {
            var updated = d.CatalogUpdatedAt is { } at ? WorkingDayCalendar.ToChinaDate(at) : (DateOnly?)null;
            return new CatalogUpdateDeadline(c.Id, c.Description, d.Department, c.Due, c.DueProvisional, d.CatalogUpdatedAt,
                Met: updated <= c.Due, Late: updated > c.Due, Overdue: updated is null && today > c.Due);
        })).OrderBy(d => d.Due).ThenBy(d => d.DutyChange, StringComparer.Ordinal)];

    // Inside the catalog's state change: the department's first write after a duty change meets its deadline.
    private void CatalogUpdated(DepartmentRef department, DateTimeOffset at)
    {
        foreach (var candidate in _snapshot)
        {
            // The snapshot finds candidates; the document (this transaction's view) decides, so a
            // write of several entries at once (an import) meets a deadline once, not once per entry.
            if (candidate.RecordedAt >= at
                || !candidate.Departments.Any(d => d.CatalogUpdatedAt is null && d.Department.SameAs(department.DivisionCode, department.CreditCode))
                || _changes.Find(candidate.Id) is not { } document)
            {
                continue;
            }

            var change = JsonSerializer.Deserialize<DutyChange>(document.Json, CatalogJson.Options)!;
            if (!change.Departments.Any(d => d.CatalogUpdatedAt is null && d.Department.SameAs(department.DivisionCode, department.CreditCode)))
            {
                continue;
            }

            var updated = change with
            {
                Departments = [.. change.Departments.Select(d => d.CatalogUpdatedAt is null && d.Department.SameAs(department.DivisionCode, department.CreditCode) ? d with { CatalogUpdatedAt = at } : d)],
            };
            Apply(updated);
            Journal("catalog-updated", updated, CallerIdentity.Department(department.DivisionCode, department.CreditCode).Uri, at);
        }
    }

    private void Journal(string action, DutyChange change, string by, DateTimeOffset at) =>
        _state.MarkApplied(_journal.Append(new StateChange(DepartmentRegistry.ChangeKind, EntityPrefix + change.Id, by, at,
            JsonSerializer.SerializeToElement(new DutyChangeRecord(action, change), CatalogJson.Options))));

    /// <summary>Stores a duty change as it stands; the snapshot follows at commit. Call inside a state write.</summary>
    internal void Apply(DutyChange change)
    {
        _changes.Put(new DutyChangeDocument { Id = change.Id, RecordedAt = change.RecordedAt.ToUnixTimeMilliseconds(), Json = JsonSerializer.Serialize(change, CatalogJson.Options) });
        _state.AfterCommit(() => _snapshot = Load());
    }

    private ImmutableList<DutyChange> Load() =>
        [.. _changes.All().Select(d => JsonSerializer.Deserialize<DutyChange>(d.Json, CatalogJson.Options)!).OrderBy(c => c.RecordedAt).ThenBy(c => c.Id, StringComparer.Ordinal)];

    internal sealed class DutyChangeDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public long RecordedAt { get; set; }

        public string Json { get; set; } = "";
    }
}

/// <summary>The <c>diff</c> of a duty change's record: what happened (<c>recorded</c>, <c>catalog-updated</c>) and the change after it. Never rename a property.</summary>
public sealed record DutyChangeRecord(string Action, DutyChange Change);

/// <summary>Redoes logged duty changes (their part of the change-log replay).</summary>
public sealed class DutyChangeReplayer(DutyChangeRegister register) : IStateReplayer
{
    public string EntityPrefix => DutyChangeRegister.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (System.Text.Json.JsonSerializer.Deserialize<DutyChangeRecord>(record.Diff, CatalogJson.Options) is not { Change: { } change })
        {
            return false;
        }

        register.Apply(change);
        return true;
    }
}
