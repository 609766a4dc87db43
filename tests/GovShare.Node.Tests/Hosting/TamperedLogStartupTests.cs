using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using GovShare.Node.Logs;
using GovShare.Node.Management;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Hosting;

/// <summary>
/// A node whose log was tampered with does not start: <c>govshare node run</c> exits with code 5 and
/// names the log, the record and the file, and <c>govshare log verify</c> names the same record.
/// </summary>
public sealed class TamperedLogStartupTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task NodeRun_RecordEditedMidLog_RefusesToStartNamingLogRecordAndFile()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{Loopback.FreePort()}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        await using (await NodeProcess.StartAsync(settings, managementPort))
        {
            using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}/"), Timeout = TimeSpan.FromSeconds(30) };
            management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(settings["Node:DataPath"]!));
            var department = _pki.IssueDepartment(name: "Kunming Bureau of Statistics");
            Assert.True((await management.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration(department.Division, department.CreditCode, department.Name))).IsSuccessStatusCode);
            using var client = TestNode.ClientFor(_pki, new Uri($"https://localhost:{new Uri(settings["Node:ExchangeUrl"]!).Port}/"), department.Certificate);
            foreach (var i in new[] { 1, 2, 3 })
            {
                // Catalog reads, each a query-log record (a 404 is logged like any answer).
                using var _ = await client.GetAsync($"v1/catalog/101001-00000{i}");
            }
        }

        var store = LogStore.ForDataFolder(settings["Node:DataPath"]!);
        var segment = store.Segments(LogKind.Query).Single().Path;
        var lines = await File.ReadAllLinesAsync(segment);
        Assert.True(lines.Length >= 4, "three catalog reads and a closing checkpoint");
        Assert.Contains("101001-000002", lines[1], StringComparison.Ordinal);
        lines[1] = lines[1].Replace("101001-000002", "101001-000009", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(segment, lines);

        var node = NodeProcess.Launch(settings, managementPort);
        await using (node)
        {
            Assert.True(await node.WaitForExitAsync(TimeSpan.FromMinutes(2)), "the node started on a tampered log");
            Assert.Equal(5, node.Process.ExitCode);
        }

        var output = string.Join('\n', node.Output);
        Assert.Contains("The query log is damaged or tampered with at record 2", output, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(segment), output, StringComparison.Ordinal);

        // Rebuilding the state from a damaged log is refused the same way (exit 5), the log left as it is.
        var environment = settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        var rebuild = await Cli.GovShareProcess.RunAsync(_pki.Root, ["node", "rebuild-state", "--data", settings["Node:DataPath"]!], environment);
        Assert.True(rebuild.ExitCode == 5, rebuild.ToString());
        Assert.Contains("The query log is damaged or tampered with at record 2", rebuild.Stderr, StringComparison.Ordinal);
        Assert.True(rebuild.ShowsNoInternals, rebuild.ToString());
        Assert.Equal(lines, await File.ReadAllLinesAsync(segment));

        var verify = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Loopback.GovShareDll(), "log", "verify", "--log", "Query", "--data", settings["Node:DataPath"]! })
        {
            verify.ArgumentList.Add(argument);
        }

        using var verifier = Process.Start(verify)!;
        var errors = verifier.StandardError.ReadToEndAsync();
        _ = verifier.StandardOutput.ReadToEndAsync();
        await verifier.WaitForExitAsync();
        Assert.Equal(5, verifier.ExitCode);
        Assert.Contains("record 2 does not match its hash", await errors, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(segment), await errors, StringComparison.Ordinal);
    }
}
