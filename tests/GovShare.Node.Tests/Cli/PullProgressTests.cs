using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using GovShare.Cli.Commands;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Pull;
using GovShare.Node.Hierarchy;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// A pull's total, end to end: the province (530000) holds 120,000 rows; its own department pulls
/// them directly and a Kunming (530100) department pulls them through Kunming's node, which
/// forwards to the province (YARP hop) — two real nodes with their certificates on loopback. The
/// node announces the rows in <c>GovShare-Data-Rows</c> before the first one, on both paths; the
/// built <c>govshare</c> then shows the total, a percentage and the rate on a terminal, and a plain
/// line every 10 s when redirected.
/// </summary>
public sealed partial class PullProgressTests : IAsyncLifetime
{
    private const int Rows = 120_000;
    private const string Small = "101001/000004";

    private readonly TestPki _pki = new();
    private TestNode _province = null!;
    private TestNode _kunming = null!;
    private TestDepartment _provider = null!;
    private TestDepartment _provincial = null!;
    private TestDepartment _kunmingUser = null!;
    private string _folder = null!;

    public async Task InitializeAsync()
    {
        _province = await TestNode.StartAsync(_pki, "530000");
        _kunming = await TestNode.StartAsync(_pki, "530100", s => s["Hierarchy:ConnectTimeout"] = "00:00:15");
        var links = (Province: _province.Services.GetRequiredService<NodeLinkRegistry>(), Kunming: _kunming.Services.GetRequiredService<NodeLinkRegistry>());
        Assert.Empty(links.Province.Link("530100", LinkRole.Child, _kunming.ExchangeAddress.ToString(), _pki.NodeKey("530100"), out _));
        Assert.Empty(links.Kunming.Link("530000", LinkRole.Parent, _province.ExchangeAddress.ToString(), _pki.NodeKey("530000"), out _));

        _provider = _pki.IssueDepartment("530000", name: "Yunnan Provincial Public Security Department");
        _provincial = _pki.IssueDepartment("530000", name: "Yunnan Provincial Civil Affairs Department");
        _kunmingUser = _pki.IssueDepartment("530100", name: "Kunming Civil Affairs Bureau");
        _province.Register(_provider);
        _province.Register(_provincial);
        _kunming.Register(_kunmingUser);

        var catalog = _province.Services.GetRequiredService<CatalogStore>();
        foreach (var code in new[] { ExchangeFixture.Unconditional, Small })
        {
            Assert.True(catalog.Create(ExchangeFixture.Entry(code, _provider, new ShareAttributes(ShareType.Unconditional)), ExchangeFixture.Caller(_provider)).Succeeded);
        }

        using var client = _province.Client(_provider.Certificate);
        foreach (var (code, rows) in new[] { (ExchangeFixture.Unconditional, Rows), (Small, 300) })
        {
            using var pushed = await client.PostAsync(ExchangeFixture.DataPath(code), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(rows, batchSize: 10_000))));
            Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
        }

        _folder = Directory.CreateTempSubdirectory("govshare-pull-progress-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _kunming.DisposeAsync();
        await _province.DisposeAsync();
        _pki.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task DataRowsHeader_DirectAndForwardedAndFromTheAnswerCache_EqualsTheRowsReceived()
    {
        using var direct = _province.Client(_provincial.Certificate);
        using var forwarded = _kunming.Client(_kunmingUser.Certificate);

        foreach (var (client, path) in new[] { (direct, "direct"), (forwarded, "forwarded through Kunming") })
        {
            using var pull = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "progress"), HttpCompletionOption.ResponseHeadersRead);
            Assert.True(pull.StatusCode == HttpStatusCode.OK, $"{path}: {(int)pull.StatusCode} {await pull.Content.ReadAsStringAsync()}");
            // Announced before the body was read, and exactly what the body then holds.
            var announced = pull.Headers.GetValues(GovShareHeaders.DataRows).Single();
            var (_, batches) = await ExchangeFixture.ReadAsync(pull);
            Assert.Equal(Rows.ToString(System.Globalization.CultureInfo.InvariantCulture), announced);
            Assert.Equal(Rows, batches.Sum(b => b.Length));
        }

        // A small version's second pull is answered from memory: announced the same.
        var answers = _province.Services.GetRequiredService<PullAnswerCache>();
        foreach (var _ in new[] { "streamed", "cached" })
        {
            using var pull = await direct.SendAsync(ExchangeFixture.Pull(Small, "progress"));
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
            var (_, batches) = await ExchangeFixture.ReadAsync(pull);
            Assert.Equal("300", pull.Headers.GetValues(GovShareHeaders.DataRows).Single());
            Assert.Equal(300, batches.Sum(b => b.Length));
        }

        Assert.True(answers.Bytes > 0, "the small version's answer was never kept, so the cached path did not run");

        // A refusal announces nothing.
        using var refused = await direct.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, purpose: null));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.False(refused.Headers.Contains(GovShareHeaders.DataRows));
    }

    [Fact]
    public async Task GovsharePull_ForwardedOnATerminal_TotalPercentageRateEndingAtOneHundred_RedirectedAPlainLine()
    {
        var kunming = GovShareProcess.DepartmentFolder(_folder, "kunming", _kunming.ExchangeAddress, _kunmingUser, _pki.Folder.TrustAnchorsFile);
        var province = GovShareProcess.DepartmentFolder(_folder, "province", _province.ExchangeAddress, _provincial, _pki.Folder.TrustAnchorsFile);

        // On a terminal, through Kunming's node to the province: the line is redrawn in place with
        // the announced total; the first line (drawn at the first bytes, before any row) is below 100%.
        var terminal = await GovShareProcess.RunOnTerminalAsync(kunming, ["pull", "--resource", ExchangeFixture.Unconditional, "--csv", "people.csv"]);
        Assert.True(terminal.ExitCode == ExitCodes.Ok, terminal.ToString());
        Assert.Equal(Rows + 1, File.ReadLines(Path.Combine(kunming, "people.csv")).Count());
        var drawn = Drawn().Matches(terminal.Stdout).Select(m => (Rows: long.Parse(m.Groups["rows"].Value, System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture), Percent: int.Parse(m.Groups["percent"].Value, System.Globalization.CultureInfo.InvariantCulture), Line: m.Value)).ToList();
        Assert.True(drawn.Count >= 2, terminal.ToString());
        Assert.True(drawn[0].Percent < 100, drawn[0].Line);
        Assert.Matches(@"^\rpull: 120,000 rows, 100% of 120,000 rows, [0-9.]+ MB, [0-9,]+ rows/s, done in \d+:\d\d", drawn[^1].Line);
        Assert.All(drawn, d => Assert.Equal(Math.Min(100, d.Rows * 100 / Rows), d.Percent));
        // Each line drawn while rows were coming shows the time left; none shows a percentage above 100.
        Assert.All(drawn.Where(d => d.Rows is > 0 and < Rows), d => Assert.Contains(", ETA ", d.Line, StringComparison.Ordinal));
        Assert.Contains("Pulled 120,000 rows of " + ExchangeFixture.Unconditional, terminal.Stdout, StringComparison.Ordinal);

        // Redirected (a script, cron), directly at the province: plain lines, one at the start, one
        // every 10 s and one at the end — not a line per batch.
        var clock = Stopwatch.StartNew();
        var redirected = await GovShareProcess.RunAsync(province, ["pull", "--resource", ExchangeFixture.Unconditional, "--csv", "people.csv"]);
        var seconds = clock.Elapsed.TotalSeconds;
        Assert.True(redirected.ExitCode == ExitCodes.Ok, redirected.ToString());
        Assert.DoesNotContain("\r", redirected.Stderr, StringComparison.Ordinal);
        var lines = redirected.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^pull: 0 rows, 0% of 120,000 rows", lines[0]);
        Assert.Matches(@"^pull: 120,000 rows, 100% of 120,000 rows, [0-9.]+ MB, [0-9,]+ rows/s, done in \d+:\d\d$", lines[^1]);
        Assert.True(lines.Length <= 2 + (int)(seconds / 10), redirected.ToString());
        Assert.Equal(Rows + 1, File.ReadLines(Path.Combine(province, "people.csv")).Count());
    }

    /// <summary>Each redraw of the line on the terminal, with its rows and percentage.</summary>
    [GeneratedRegex(@"\rpull: (?<rows>[0-9,]+) rows, (?<percent>[0-9]+)% of 120,000 rows[^\r\n]*")]
    private static partial Regex Drawn();
}
