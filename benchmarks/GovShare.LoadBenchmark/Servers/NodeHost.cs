using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Hosting;
using GovShare.Node.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.LoadBenchmark.Servers;

/// <summary>
/// <c>serve-node</c>: a real GovShare node (<see cref="GovShareNode.Build"/>, as <c>govshare node
/// run</c> starts it) in its own process, so its working set is its own. Before it reports ready
/// it does the operator's and provider's set-up: departments, links, catalog entries.
/// </summary>
public static class NodeHost
{
    public const string Role = "serve-node";

    /// <summary>The GC settings the node reports at start (parts of <see cref="GC.GetConfigurationVariables"/>' names).</summary>
    private static readonly string[] ReportedGcSettings = ["Server", "Concurrent", "LOH", "gen0", "Conserve", "DynamicAdaptation", "HardLimit", "RetainVM"];

    public static async Task<int> RunAsync(string configPath)
    {
        var config = ServerConfig.Read(configPath);
        // The node writes its own exchange, change and query logs (and relays them to Kafka when
        // the settings name a cluster): the benchmark measures the product as it runs.
        await using var node = GovShareNode.Build([], config.Settings);

        var registry = node.Services.GetRequiredService<DepartmentRegistry>();
        foreach (var department in config.Departments)
        {
            Check(registry.Register(department.Division, department.CreditCode, department.Name, out _), "department " + department.CreditCode);
        }

        var links = node.Services.GetRequiredService<NodeLinkRegistry>();
        foreach (var link in config.Links)
        {
            Check(links.Link(link.Division, Enum.Parse<LinkRole>(link.Role), link.Url, link.KeySha256, out _), "link " + link.Division);
        }

        var catalog = node.Services.GetRequiredService<CatalogStore>();
        foreach (var resource in config.Resources)
        {
            var provider = new DepartmentRef(resource.ProviderDivision, resource.ProviderCreditCode, resource.ProviderName);
            var result = catalog.Create(Population.Entry(resource.Code, provider), CallerIdentity.Department(resource.ProviderDivision, resource.ProviderCreditCode));
            if (!result.Succeeded)
            {
                throw new InvalidOperationException($"Catalog entry {resource.Code} refused: {result.Outcome} {string.Join(" ", result.Errors ?? [])} {result.Detail}");
            }
        }

        await node.StartAsync();
        // What the runtime made of the settings it was given (the driver records it with the results):
        // the GC's own view of its configuration, so a setting that did not take is visible.
        Console.Out.WriteLine("RUNTIME " + string.Join(' ', GC.GetConfigurationVariables()
            .Where(v => ReportedGcSettings.Any(k => v.Key.Contains(k, StringComparison.OrdinalIgnoreCase)))
            .OrderBy(v => v.Key, StringComparer.Ordinal)
            .Select(v => $"{v.Key}={v.Value}")) + $" TieredPGO={Environment.GetEnvironmentVariable("DOTNET_TieredPGO") ?? "runtime default"}");
        ServerConfig.Ready(node.ExchangeAddress);
        await ServerConfig.WaitForStopAsync();
        await node.StopAsync();
        return 0;
    }

    private static void Check(IReadOnlyList<string> errors, string what)
    {
        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"Set-up of {what} refused: {string.Join(" ", errors)}");
        }
    }
}
