using GovShare.Node.Kernel;
using GovShare.Node.Management;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Tests.Management;

/// <summary>The data folder's checks on a real folder: a floor above the free space, a closed database.</summary>
public sealed class NodeHealthTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "govshare-health-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_path, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }

    [Fact]
    public async Task FreeSpace_BelowTheFloor_UnhealthyNamingBothNumbers()
    {
        using var data = NodeDataFolder.Open(_path);
        var floor = DiskSpace.FreeBytes(_path) + (1L << 40);
        var check = new FreeSpaceHealthCheck(data, Options.Create(new NodeOptions { MinFreeBytes = floor }));

        var result = await check.CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains($"below Node:MinFreeBytes ({floor})", result.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, (await new FreeSpaceHealthCheck(data, Options.Create(new NodeOptions { MinFreeBytes = 0 })).CheckHealthAsync(new HealthCheckContext())).Status);
    }

    [Fact]
    public async Task Database_Closed_UnhealthySayingItDoesNotAnswer()
    {
        var data = NodeDataFolder.Open(_path);
        var check = new DatabaseHealthCheck(data);
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

        data.Dispose();

        var result = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("the database does not answer", result.Description, StringComparison.Ordinal);
    }
}
