namespace GovShare.Contract;

/// <summary>The department connection cannot be used; lists every fault.</summary>
public sealed class DepartmentConnectionException(IReadOnlyList<string> errors)
    : Exception("The department connection cannot be used:" + Environment.NewLine + "  - " + string.Join(Environment.NewLine + "  - ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
