namespace GovShare.Node.Kernel;

/// <summary>
/// A violation escalated by this node's scan to its parent node's office (Art. 42), as it travels
/// over the parent link. The seam between Evaluation (which escalates) and Hierarchy (which owns
/// the link): neither may use the other, so both speak this record. Never rename a property.
/// <see cref="RectifiedAt"/>: when the department put it right after the escalation (the same
/// notice is delivered again with it, so the parent's copy follows). <see cref="Origin"/>: the
/// division of the node whose scan found it, when a node passes a child's escalation on to its own
/// parent (null: the sender found it); <see cref="PassUpReason"/>: why that office could not resolve it.
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
    DateTimeOffset EscalatedAt,
    DateTimeOffset? RectifiedAt = null,
    string? Origin = null,
    string? PassUpReason = null);

/// <summary>The violations this node escalated to <c>govshare:node/&lt;parent&gt;</c>, for delivery over the link, rectified ones too (with <see cref="EscalationNotice.RectifiedAt"/>).</summary>
public interface IEscalationSource
{
    IReadOnlyList<EscalationNotice> EscalatedTo(string target);
}
