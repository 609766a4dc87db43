using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GovShare.Node.Tests.Deploy;

/// <summary>
/// Checks deploy/Dockerfile (no Docker engine runs here) and that the image and the chart
/// agree: ports, user, data path, entry point.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string DeployPath = Path.Combine(RepositoryRoot.Path, "deploy");

    private static readonly Lazy<List<(string Instruction, string Arguments)>> Instructions = new(() => Parse(File.ReadAllText(Path.Combine(DeployPath, "Dockerfile"))));

    [Fact]
    public void Dockerfile_Stages_BuildWithTheSdkAndRunOnTheAspNetRuntime()
    {
        var stages = Instructions.Value.Where(i => i.Instruction == "FROM").Select(i => i.Arguments).ToList();

        Assert.Equal(2, stages.Count);
        Assert.StartsWith("--platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:", stages[0], StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:", stages[1], StringComparison.Ordinal);
        Assert.Contains(Instructions.Value, i => i.Instruction == "COPY" && i.Arguments.StartsWith("--from=build ", StringComparison.Ordinal));
    }

    [Fact]
    public void Dockerfile_User_IsTheNumericNonRootUserTheChartRunsAs()
    {
        var user = Assert.Single(Instructions.Value, i => i.Instruction == "USER").Arguments;
        var runAsUser = (int?)ChartValues()["podSecurityContext"]!["runAsUser"];

        // $APP_UID is the .NET images' `app` user, 1654: numeric, so Kubernetes can verify runAsNonRoot.
        Assert.Equal("$APP_UID", user);
        Assert.Equal(1654, runAsUser);
        var lastUser = Instructions.Value.FindLastIndex(i => i.Instruction == "USER");
        var lastRun = Instructions.Value.FindLastIndex(i => i.Instruction == "RUN");
        Assert.True(lastUser > lastRun, "USER must come after the last RUN of the runtime stage");
    }

    [Fact]
    public void Dockerfile_Expose_MatchesTheChartPorts()
    {
        var exposed = Assert.Single(Instructions.Value, i => i.Instruction == "EXPOSE").Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ports = ChartValues()["ports"]!;

        Assert.Equal([ports["exchange"]!.ToString(), ports["management"]!.ToString()], exposed);
    }

    [Fact]
    public void Dockerfile_Entrypoint_RunsTheNode()
    {
        var entrypoint = Assert.Single(Instructions.Value, i => i.Instruction == "ENTRYPOINT").Arguments;

        Assert.Equal(["/app/govshare", "node", "run"], JsonNode.Parse(entrypoint)!.AsArray().Select(a => (string?)a));
        // The chart must not add arguments, or the node would run "node run node run".
        Assert.DoesNotContain("args:", File.ReadAllText(Path.Combine(DeployPath, "helm", "govshare-node", "templates", "statefulset.yaml")), StringComparison.Ordinal);
    }

    [Fact]
    public void Dockerfile_DataPath_IsTheVolumeTheChartMounts()
    {
        var volume = Assert.Single(Instructions.Value, i => i.Instruction == "VOLUME").Arguments;
        var environment = string.Join(' ', Instructions.Value.Where(i => i.Instruction == "ENV").Select(i => i.Arguments));
        var templates = Path.Combine(DeployPath, "helm", "govshare-node", "templates");

        Assert.Equal("[\"/var/lib/govshare\"]", volume);
        Assert.Contains("Node__DataPath=/var/lib/govshare", environment, StringComparison.Ordinal);
        Assert.Contains("\"DataPath\" \"/var/lib/govshare\"", File.ReadAllText(Path.Combine(templates, "configmap.yaml")), StringComparison.Ordinal);
        Assert.Contains("mountPath: /var/lib/govshare", File.ReadAllText(Path.Combine(templates, "statefulset.yaml")), StringComparison.Ordinal);
    }

    [Fact]
    public void Dockerignore_Context_LeavesOutBuildOutputAndKeys()
    {
        var ignored = File.ReadAllLines(Path.Combine(DeployPath, "Dockerfile.dockerignore"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToHashSet();

        Assert.Superset(new HashSet<string> { "**/bin/", "**/obj/", "**/*.key", "certs/", "data/", ".git/" }, ignored);
    }

    private static JsonNode ChartValues() =>
        YamlJson.Load(File.ReadAllText(Path.Combine(DeployPath, "helm", "govshare-node", "values.yaml")), "values.yaml")!;

    /// <summary>Instructions in order, continuation lines joined, comments and the parser directive dropped.</summary>
    private static List<(string Instruction, string Arguments)> Parse(string dockerfile)
    {
        var joined = Continuation().Replace(dockerfile, " ");
        return joined.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(' ', 2))
            .Select(p => (p[0].ToUpperInvariant(), p.Length > 1 ? Whitespace().Replace(p[1].Trim(), " ") : ""))
            .ToList();
    }

    [GeneratedRegex(@"\\\r?\n\s*")]
    private static partial Regex Continuation();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
