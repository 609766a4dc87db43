namespace GovShare.Node.Kernel;

/// <summary>The node cannot start: each error names the setting at fault.</summary>
public sealed class NodeConfigurationException(IReadOnlyList<string> errors)
    : Exception("The node cannot start; fix these settings:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
