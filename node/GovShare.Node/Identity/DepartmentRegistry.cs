using GovShare.Node.Kernel;
using LiteDB;

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
/// </summary>
public sealed class DepartmentRegistry(NodeDataFolder data, TimeProvider time)
{
    private readonly ILiteCollection<RegisteredDepartment> _departments = data.Database.GetCollection<RegisteredDepartment>("departments");

    // Every request asks whether its caller is registered: answer from memory. This class is the
    // only writer of the collection; each change rebuilds the snapshot under the lock and swaps it
    // whole, so a reader never sees a half-made one or an older one after a change returned.
    private readonly Lock _writes = new();
    private volatile Dictionary<string, string>? _divisionByCode;

    /// <summary>Registers (or renames) a department; returns the errors instead when the input is invalid.</summary>
    public IReadOnlyList<string> Register(string divisionCode, string creditCode, string name, out RegisteredDepartment? registered)
    {
        var errors = new List<string>();
        if (!DivisionCode.IsValid(divisionCode))
        {
            errors.Add($"divisionCode: '{divisionCode}' is not a six-digit GB/T 2260 code.");
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

        registered = new RegisteredDepartment
        {
            CreditCode = creditCode,
            DivisionCode = divisionCode,
            Name = name.Trim(),
            RegisteredAt = _departments.FindById(creditCode)?.RegisteredAt ?? time.GetUtcNow(),
        };
        lock (_writes)
        {
            _departments.Upsert(registered);
            _divisionByCode = Load();
        }

        return errors;
    }

    public bool Remove(string creditCode)
    {
        lock (_writes)
        {
            var removed = _departments.Delete(creditCode);
            _divisionByCode = Load();
            return removed;
        }
    }

    public RegisteredDepartment? Find(string creditCode) => _departments.FindById(creditCode);

    public IReadOnlyList<RegisteredDepartment> All() => _departments.FindAll().OrderBy(d => d.CreditCode, StringComparer.Ordinal).ToList();

    /// <summary>True when the identity is a department registered here, in the division its certificate names.</summary>
    public bool IsRegistered(CallerIdentity caller)
    {
        var snapshot = _divisionByCode;
        if (snapshot is null)
        {
            lock (_writes)
            {
                snapshot = _divisionByCode ??= Load();
            }
        }

        return caller.Kind == CallerKind.Department
            && caller.CreditCode is { } code
            && snapshot.TryGetValue(code, out var division)
            && division == caller.DivisionCode;
    }

    private Dictionary<string, string> Load() =>
        _departments.FindAll().ToDictionary(d => d.CreditCode, d => d.DivisionCode, StringComparer.Ordinal);
}
