using System.Collections.Immutable;
using System.Text.Json;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Identity;

/// <summary>A department registered with this node by its operator.</summary>
public sealed class RegisteredDepartment
{
    /// <summary>The unified social credit code: the department's key.</summary>
    [BsonId]
    public string CreditCode { get; set; } = "";

    public string DivisionCode { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTimeOffset RegisteredAt { get; set; }
}

/// <summary>
/// The departments this node serves. A certificate proves who a department is; registration
/// is the operator's decision that this node serves it (Art. 21: a department shares through
/// its own level's platform). A valid certificate of an unregistered department gets 403.
/// A node registers only the departments whose own level's platform it is
/// (<see cref="Serves"/>): its own division's, and at a prefecture its counties' (counties run
/// no node). A trust anchor may vouch for a wider division than the node serves (the province's
/// root issues for all of Yunnan), so without this check one operator's slip would let another
/// prefecture's department exchange through this node, outside its own platform and its own
/// office's oversight.
/// Every registration and removal is a <c>registry-change</c> change-log record carrying the
/// department as registered (<see cref="DepartmentReplayer"/> redoes it after a crash).
/// </summary>
public sealed class DepartmentRegistry
{
    /// <summary>The change-log record kind of registrations and removals.</summary>
    public const string ChangeKind = "registry-change";

    /// <summary>The change-log entity of a department: <c>department/&lt;credit code&gt;</c>.</summary>
    public const string EntityPrefix = "department/";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly TimeProvider _time;
    private readonly IStateDocuments<RegisteredDepartment> _departments;
    private readonly string _nodeDivision;

    // Every request asks whether its caller is registered: it reads this snapshot, never the
    // database. It is replaced whole after each committed change (StateStore.AfterCommit), so a
    // reader sees the state before or after a change, never half of one or a rolled-back one.
    private volatile ImmutableDictionary<string, RegisteredDepartment> _snapshot;

    /// <summary>The registry of the node of <paramref name="nodeDivision"/> (<c>Node:DivisionCode</c>), which decides whom it may register.</summary>
    public DepartmentRegistry(NodeDataFolder data, TimeProvider time, IStateJournal journal, string nodeDivision)
    {
        ArgumentNullException.ThrowIfNull(data);
        _nodeDivision = nodeDivision;
        _state = data.State;
        _journal = journal;
        _time = time;
        _departments = data.Collection<RegisteredDepartment>("departments", d => d.DivisionCode);
        _snapshot = Load();
        // A department removed through another replica is refused here too (IsRegistered).
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    /// <summary>Registers (or renames) a department; returns the errors instead when the input is invalid.</summary>
    public IReadOnlyList<string> Register(string divisionCode, string creditCode, string name, out RegisteredDepartment? registered, string by = "operator")
    {
        var errors = new List<string>();
        if (!DivisionCode.IsValid(divisionCode))
        {
            errors.Add($"divisionCode: '{divisionCode}' is not a six-digit GB/T 2260 code.");
        }
        else if (!Serves(_nodeDivision, divisionCode))
        {
            errors.Add($"divisionCode: '{divisionCode}' is not served by this node ({_nodeDivision}): a department shares only through its own level's platform (Art. 21), so register it at the node of {OwnPlatformOf(divisionCode)}.");
        }

        if (!Identity.CreditCode.IsValid(creditCode))
        {
            errors.Add($"creditCode: '{creditCode}' is not a valid unified social credit code.");
        }

        if (string.IsNullOrWhiteSpace(name) || name.Length > 200)
        {
            errors.Add("name: required, at most 200 characters.");
        }

        registered = null;
        if (errors.Count > 0)
        {
            return errors;
        }

        var now = _time.GetUtcNow();
        registered = _state.Write(() =>
        {
            var department = new RegisteredDepartment
            {
                CreditCode = creditCode,
                DivisionCode = divisionCode,
                Name = name.Trim(),
                RegisteredAt = _snapshot.TryGetValue(creditCode, out var existing) ? existing.RegisteredAt : now,
            };
            Apply(department, creditCode);
            // Logged (fsync'd) inside the transaction, before it commits: acknowledged means logged.
            _state.MarkApplied(_journal.Append(new StateChange(ChangeKind, EntityPrefix + creditCode, by, now,
                JsonSerializer.SerializeToElement(new DepartmentChange("registered", department), Json))));
            return department;
        });
        return errors;
    }

    public bool Remove(string creditCode, string by = "operator") => _state.Write(() =>
    {
        if (!_snapshot.ContainsKey(creditCode))
        {
            return false;
        }

        Apply(null, creditCode);
        _state.MarkApplied(_journal.Append(new StateChange(ChangeKind, EntityPrefix + creditCode, by, _time.GetUtcNow(),
            JsonSerializer.SerializeToElement(new DepartmentChange("removed", null), Json))));
        return true;
    });

    public RegisteredDepartment? Find(string creditCode) => _snapshot.GetValueOrDefault(creditCode);

    public IReadOnlyList<RegisteredDepartment> All() => [.. _snapshot.Values.OrderBy(d => d.CreditCode, StringComparer.Ordinal)];

    /// <summary>
    /// True when the node of <paramref name="nodeDivision"/> is the own level's platform of a
    /// department of <paramref name="departmentDivision"/> (Art. 21): the same division, or one of
    /// its counties when the node is a prefecture's.
    /// </summary>
    public static bool Serves(string nodeDivision, string departmentDivision) =>
        DivisionCode.IsValid(departmentDivision) && OwnPlatformOf(departmentDivision) == nodeDivision;

    /// <summary>The division whose node a department of this division uses: a county's prefecture, otherwise itself.</summary>
    private static string OwnPlatformOf(string departmentDivision) =>
        DivisionCode.IsCounty(departmentDivision) ? DivisionCode.PrefectureOf(departmentDivision) : departmentDivision;

    /// <summary>True when the identity is a department registered here, in the division its certificate names.</summary>
    public bool IsRegistered(CallerIdentity caller) =>
        caller.Kind == CallerKind.Department
        && caller.CreditCode is { } code
        && _snapshot.TryGetValue(code, out var department)
        && department.DivisionCode == caller.DivisionCode;

    /// <summary>Sets a department's stored state (null: removed); the snapshot follows at commit. Call inside a state write.</summary>
    internal void Apply(RegisteredDepartment? department, string creditCode)
    {
        if (department is null)
        {
            _departments.Delete(creditCode);
        }
        else
        {
            _departments.Put(department);
            // The snapshot holds the department as stored (LiteDB keeps times to the millisecond), as a reload would.
            department = _departments.Find(creditCode);
        }

        // Changed, not reloaded: a registry of thousands of departments must not be re-read per registration.
        _state.AfterCommit(() => _snapshot = department is null ? _snapshot.Remove(creditCode) : _snapshot.SetItem(creditCode, department));
    }

    private ImmutableDictionary<string, RegisteredDepartment> Load() =>
        _departments.All().ToImmutableDictionary(d => d.CreditCode, StringComparer.Ordinal);
}

/// <summary>The <c>diff</c> of a registry-change record: what happened and the department after it.</summary>
internal sealed record DepartmentChange(string Action, RegisteredDepartment? Department);

/// <summary>Redoes logged registrations and removals (the registry's part of the change-log replay).</summary>
public sealed class DepartmentReplayer(DepartmentRegistry registry) : IStateReplayer
{
    public string EntityPrefix => DepartmentRegistry.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var change = record.Diff.Deserialize<DepartmentChange>(DepartmentRegistry.Json);
        if (change is null || change.Action is not ("registered" or "removed"))
        {
            return false;
        }

        registry.Apply(change.Department, record.Entity[DepartmentRegistry.EntityPrefix.Length..]);
        return true;
    }
}
