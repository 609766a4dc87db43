using System.CommandLine;
using System.Net;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
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
            }, started: async node =>
            {
                await SeedAsync(node, pki);
                PrintHowTo(node, pki);
            });
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

    /// <summary>The demo's resource: residents registered by the Public Security Bureau, shared unconditionally.</summary>
    internal const string SampleResource = "101001/000001";

    /// <summary>
    /// Registers the sample resource and pushes a few rows, through the node's own API as the
    /// Public Security Bureau would (so the catalog change and the push are logged), unless a
    /// previous run did.
    /// </summary>
    private static async Task SeedAsync(GovShareNode node, PkiFolder pki)
    {
        var (name, code) = Departments[0];
        var files = Path.Combine(pki.IssuedFolder, $"dept-{Division}-{code}");
        using var client = new DepartmentConnection(new Uri($"https://localhost:{node.ExchangeAddress.Port}/"), files + ".crt", files + ".key", pki.TrustAnchorsFile).CreateHttpClient();
        var path = $"v1/catalog/{ResourceCode.ToUrl(SampleResource)}";
        if ((await client.GetAsync(path)).StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            var entry = new CatalogEntry
            {
                ResourceCode = SampleResource,
                Name = "昆明市户籍人口基本信息 (demo)",
                Provider = new DepartmentRef(Division, code, name),
                Abstract = "Sample residents for the demo.",
                Format = ResourceFormat.Database,
                Share = new ShareAttributes(ShareType.Unconditional),
                UpdateCycle = UpdateCycle.Daily,
                ReleaseDate = new DateOnly(2026, 1, 1),
                // Art. 34: the node shares a resource only after its secrecy review is on record.
                SecrecyReview = new SecrecyReview(new DateOnly(2026, 1, 1), "市公安局保密办 (demo)"),
                Items =
                [
                    new InformationItem("id_number", "公民身份号码", "utf8", 18, Nullable: false, Sensitivity: Sensitivity.Sensitive, Masking: MaskingRule.KeepEnds(6, 4)),
                    new InformationItem("name", "姓名", "utf8", 50),
                    new InformationItem("birth_date", "出生日期", "date32", Masking: MaskingRule.GeneraliseDate(DatePrecision.Year)),
                    new InformationItem("address", "住址", "utf8", 200, Shareable: false),
                ],
            };
            using var created = await client.PostAsync("v1/catalog", new StringContent(System.Text.Json.JsonSerializer.Serialize(entry, CatalogJson.Options), System.Text.Encoding.UTF8, "application/json"));
            created.EnsureSuccessStatusCode();
        }

        using var versions = await client.GetAsync($"v1/resources/{ResourceCode.ToUrl(SampleResource)}/versions");
        if ((await versions.Content.ReadAsStringAsync()).Trim() is "[]")
        {
            var schema = new Schema.Builder()
                .Field(new Field("公民身份号码", StringType.Default, false))
                .Field(new Field("姓名", StringType.Default, true))
                .Field(new Field("出生日期", Date32Type.Default, true))
                .Field(new Field("住址", StringType.Default, true))
                .Build();
            using var batch = new RecordBatch(schema,
            [
                new StringArray.Builder().Append("530102199001011234").Append("530103198507154321").Append("530111200012300018").Build(),
                new StringArray.Builder().Append("张三").Append("李四").Append("王五").Build(),
                new Date32Array.Builder().Append(new DateOnly(1990, 1, 1)).Append(new DateOnly(1985, 7, 15)).Append(new DateOnly(2000, 12, 30)).Build(),
                new StringArray.Builder().Append("五华区某路1号").Append("盘龙区某路2号").Append("官渡区某路3号").Build(),
            ], 3);
            using var stream = new MemoryStream();
            using (var writer = new ArrowStreamWriter(stream, schema, leaveOpen: true))
            {
                await writer.WriteRecordBatchAsync(batch);
                await writer.WriteEndAsync();
            }

            var content = new ByteArrayContent(stream.ToArray());
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.ArrowStream);
            using var pushed = await client.PostAsync($"v1/resources/{ResourceCode.ToUrl(SampleResource)}/data", content);
            pushed.EnsureSuccessStatusCode();
        }
    }

    private static void PrintHowTo(GovShareNode node, PkiFolder pki)
    {
        var (name, code) = Departments[0];
        var cert = Path.Combine(pki.IssuedFolder, $"dept-{Division}-{code}");
        var (userName, userCode) = Departments[1];
        var userCert = Path.Combine(pki.IssuedFolder, $"dept-{Division}-{userCode}");
        var url = $"https://localhost:{node.ExchangeAddress.Port}";
        Console.WriteLine($"""

            Demo node ready. Registered departments of Kunming ({Division}):
            {string.Join(Environment.NewLine, Departments.Select(d => $"  {d.CreditCode}  {d.Name}"))}

            Ask the node who you are, as the {name}:
              curl --cacert {pki.TrustAnchorsFile} \
                   --cert {cert}.crt --key {cert}.key \
                   {url}/v1/identity

            Pull the sample resource {SampleResource} as the {userName} — only the shared items,
            the ID number and birth date desensitised (Arrow is the default; JSON on request):
              curl --cacert {pki.TrustAnchorsFile} \
                   --cert {userCert}.crt --key {userCert}.key \
                   -H 'GovShare-Purpose: demo' -H 'Accept: application/json' \
                   {url}/v1/resources/{ResourceCode.ToUrl(SampleResource)}/data

            Without a certificate you are refused (401, application/problem+json):
              curl --cacert {pki.TrustAnchorsFile} {url}/v1/identity

            Health: curl {node.ManagementAddress}health/ready
            """);
    }
}
