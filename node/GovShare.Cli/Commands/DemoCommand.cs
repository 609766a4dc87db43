using System.CommandLine;
using System.Net;
using GovShare.Node.Hosting;
using GovShare.Node.Identity;
using GovShare.Node.Pki;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare demo</c>: a Kunming (530100) node on loopback with a development PKI, a data
/// folder and three registered departments, made on first run and reused after. Needs nothing
/// but the .NET SDK.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The demo's departments: three Kunming bureaus with valid (made-up) credit codes.</summary>
    internal static readonly (string Name, string CreditCode)[] Departments =
    [
        ("Kunming Public Security Bureau", CreditCode.Complete("11530100MB0000011")),
        ("Kunming Human Resources and Social Security Bureau", CreditCode.Complete("11530100MB0000022")),
        ("Kunming Market Supervision Administration", CreditCode.Complete("11530100MB0000033")),
    ];

    private const string Division = "530100";

    public static Command Create()
    {
        var folder = new Option<string>("--folder") { Description = "Where the demo keeps its PKI and data.", DefaultValueFactory = _ => ".govshare-demo" };
        var port = new Option<int>("--port") { Description = "The exchange (mTLS) port.", DefaultValueFactory = _ => 8443 };
        var managementPort = new Option<int>("--management-port") { Description = "The management port.", DefaultValueFactory = _ => 8444 };
        var command = new Command("demo", "Run a Kunming demo node on loopback with a development PKI and sample departments.") { folder, port, managementPort };
        command.SetAction(async (parse, cancellation) =>
        {
            var root = Path.GetFullPath(parse.GetValue(folder)!);
            var pki = Prepare(root, DateTimeOffset.UtcNow);
            var overrides = Settings(root, pki, parse.GetValue(port), parse.GetValue(managementPort));
            return await NodeCommands.RunAsync([], overrides, cancellation, beforeStart: node =>
            {
                var registry = node.Services.GetRequiredService<DepartmentRegistry>();
                foreach (var (name, code) in Departments)
                {
                    registry.Register(Division, code, name, out _);
                }

                return Task.CompletedTask;
            }, started: node => PrintHowTo(node, pki));
        });
        return command;
    }

    /// <summary>Creates what is missing of the demo PKI and refreshes its CRLs; returns it.</summary>
    internal static PkiFolder Prepare(string root, DateTimeOffset now)
    {
        var pki = new PkiFolder(Path.Combine(root, "pki"));
        if (!pki.HasRoot)
        {
            pki.CreateRoot("530000", "Yunnan Province GovShare Root CA (development)", now);
        }

        if (!pki.HasIntermediate(Division))
        {
            pki.CreateIntermediate(Division, "Kunming GovShare CA (development)", now);
        }

        if (!File.Exists(Path.Combine(pki.IssuedFolder, $"node-{Division}.crt")))
        {
            pki.IssueNode(Division, now.AddMinutes(-5), now.AddDays(365), ["localhost"], [IPAddress.Loopback]);
        }

        foreach (var (name, code) in Departments)
        {
            if (!File.Exists(Path.Combine(pki.IssuedFolder, $"dept-{Division}-{code}.crt")))
            {
                pki.IssueDepartment(Division, code, name, now.AddMinutes(-5), now.AddDays(365));
            }
        }

        // CRLs expire in a week: a demo started again later must not fail closed.
        foreach (var ca in pki.AllAuthorities())
        {
            pki.PublishCrl(ca, now);
        }

        return pki;
    }

    internal static Dictionary<string, string?> Settings(string root, PkiFolder pki, int port, int managementPort) => new()
    {
        ["Node:DivisionCode"] = Division,
        ["Node:Name"] = "Kunming (demo)",
        ["Node:DataPath"] = Path.Combine(root, "data"),
        ["Node:ExchangeUrl"] = $"https://127.0.0.1:{port}",
        ["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}",
        ["Node:Certificate"] = Path.Combine(pki.IssuedFolder, $"node-{Division}.crt"),
        ["Node:Key"] = Path.Combine(pki.IssuedFolder, $"node-{Division}.key"),
        ["Node:TrustAnchors"] = pki.TrustAnchorsFile,
        ["Node:Intermediates"] = pki.IntermediatesFile,
        ["Node:CrlPath"] = pki.CrlFolder,
    };

    private static void PrintHowTo(GovShareNode node, PkiFolder pki)
    {
        var (name, code) = Departments[0];
        var cert = Path.Combine(pki.IssuedFolder, $"dept-{Division}-{code}");
        var url = $"https://localhost:{node.ExchangeAddress.Port}";
        Console.WriteLine($"""

            Demo node ready. Registered departments of Kunming ({Division}):
            {string.Join(Environment.NewLine, Departments.Select(d => $"  {d.CreditCode}  {d.Name}"))}

            Ask the node who you are, as the {name}:
              curl --cacert {pki.TrustAnchorsFile} \
                   --cert {cert}.crt --key {cert}.key \
                   {url}/v1/identity

            Without a certificate you are refused (401, application/problem+json):
              curl --cacert {pki.TrustAnchorsFile} {url}/v1/identity

            Health: curl {node.ManagementAddress}health/ready
            """);
    }
}
