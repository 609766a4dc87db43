using System.Text.RegularExpressions;
using GovShare.Node.Hierarchy;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Deploy;

/// <summary>
/// Every setting the chart writes into the node's appsettings.json is a setting the node reads:
/// a misspelt key would be silently ignored and the node would run on its default.
/// </summary>
public sealed partial class ChartSettingsTests
{
    [Theory]
    [InlineData("node", typeof(NodeOptions))]
    [InlineData("kafka", typeof(KafkaOptions))]
    [InlineData("logs", typeof(LogOptions))]
    [InlineData("upstream", typeof(UpstreamOptions))]
    [InlineData("state", typeof(StateOptions))]
    [InlineData("exchange", typeof(GovShare.Node.Exchange.ExchangeOptions))]
    public void ConfigMap_EverySectionKey_IsAPropertyOfTheOptions(string variable, Type options)
    {
        var template = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "deploy", "helm", "govshare-node", "templates", "configmap.yaml"));
        var line = template.Split('\n').Single(l => l.Contains($"${variable} := dict", StringComparison.Ordinal));

        var keys = KeyPattern().Matches(line[line.IndexOf("dict", StringComparison.Ordinal)..]).Select(m => m.Groups[1].Value).ToList();

        Assert.NotEmpty(keys);
        var properties = options.GetProperties().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        Assert.All(keys, key => Assert.Contains(key, properties));
    }

    [Fact]
    public void Values_GracePeriod_OutlastsTheDrainWithRoomForCheckpointsKafkaAndTheDatabase()
    {
        var chart = Path.Combine(RepositoryRoot.Path, "deploy", "helm", "govshare-node");
        var values = YamlJson.Load(File.ReadAllText(Path.Combine(chart, "values.yaml")), "values.yaml")!;
        var drain = (int)values["node"]!["drainTimeoutSeconds"]!;
        var grace = (int)values["terminationGracePeriodSeconds"]!;

        Assert.True(grace >= drain + 15, $"terminationGracePeriodSeconds {grace} leaves too little after a {drain} s drain");
        // The chart's defaults are the node's: a pod behaves as the documented node does.
        Assert.Equal(new NodeOptions().DrainTimeout, TimeSpan.FromSeconds(drain));
        Assert.Equal(new NodeOptions().MinFreeBytes, (long)values["node"]!["minFreeBytes"]!);
        Assert.Equal(new NodeOptions().ExpiryWarning, TimeSpan.Parse((string)values["node"]!["expiryWarning"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(new NodeOptions().CrlExpiryWarning, TimeSpan.Parse((string)values["node"]!["crlExpiryWarning"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("add (int .Values.node.drainTimeoutSeconds) 15", File.ReadAllText(Path.Combine(chart, "templates", "_helpers.tpl")), StringComparison.Ordinal);
    }

    // A dict key is a quoted name followed by its value: "Name" .Values… or "Name" (…) or "Name" "literal".
    [GeneratedRegex("\"([A-Z][A-Za-z]+)\" (?:\\.|\\(|\\$|\")")]
    private static partial Regex KeyPattern();
}
