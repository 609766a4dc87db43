namespace GovShare.Node.Kernel;

/// <summary>
/// A violation escalated by this node's scan to its parent node's office (Art. 42), as it travels
/// over the parent link. The seam between Evaluation (which escalates) and Hierarchy (which owns
/// the link): neither may use the other, so both speak this record. Never rename a property.
/// </summary>
public sealed record EscalationNotice(
    string ViolationId,
    string Kind,
    string Rule,
    string DepartmentDivision,
    string DepartmentCreditCode,
    string? ResourceCode,
    string Summary,
    DateOnly OccurredOn,
    DateOnly RectifyBy,
    DateTimeOffset EscalatedAt);

/// <summary>The violations this node escalated to <c>govshare:node/&lt;parent&gt;</c>, for delivery over the link.</summary>
public interface IEscalationSource
{
    IReadOnlyList<EscalationNotice> EscalatedTo(string target);
}
