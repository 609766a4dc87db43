namespace GovShare.Node.Kernel;

/// <summary>
/// Tags of the node's health checks. A feature registers its checks with these tags; the
/// management listener's <c>/health/ready</c> runs the <see cref="Ready"/> ones and
/// <c>/health/live</c> the <see cref="Live"/> ones.
/// </summary>
public static class HealthTags
{
    /// <summary>False while the node cannot serve: traffic should go elsewhere, but it may recover by itself.</summary>
    public const string Ready = "ready";

    /// <summary>False only when the process cannot recover by itself: the orchestrator should restart it.</summary>
    public const string Live = "live";

    /// <summary>
    /// Only in <c>/health</c>, the operator's detail: warnings (Degraded) that must not take the node out of
    /// service, e.g. a certificate that expires in two weeks.
    /// </summary>
    public const string Detail = "detail";
}
