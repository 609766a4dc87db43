using System.Diagnostics;
using System.Net;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Functional;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>Scorecards and the annual report of a year of activity made through the node's API.</summary>
public sealed class YearOfActivityTests(YearOfActivity year) : IClassFixture<YearOfActivity>
{
    private string Period => $"from={year.Year}-01-01&to={year.Year}-12-31";

    [Fact]
    public async Task Scorecards_YearOfActivity_EqualRecomputationFromExchangeLog()
    {
        var cards = await Get(year.Env.Operator, $"v1/operator/evaluation/scorecards?{Period}");
        var log = year.Env.ReadLog(LogKind.Exchange);
        Assert.Contains(log, r => r.Record.GetProperty("status").GetInt32() == 403); // the refusals are there, and must not count

        foreach (var party in new[] { year.Police, year.Civil, year.Health })
        {
            var card = cards.GetProperty("departments").EnumerateArray().Single(c => c.GetProperty("department").GetProperty("creditCode").GetString() == party.CreditCode);
            var code = party.CreditCode;

            // Recomputed here from the stored records, parsed on their own.
            var inYear = log.Select(r => r.Record)
                .Where(r => r.GetProperty("status").GetInt32() is >= 200 and < 300)
                .Where(r => WorkingDayCalendar.ToChinaDate(r.GetProperty("time").GetDateTimeOffset()).Year == year.Year)
                .ToList();
            var served = Figures(inYear.Where(r => Kind(r) == "pull" && Provider(r) == code && User(r) != code));
            var used = Figures(inYear.Where(r => Kind(r) is "pull" or "forward" && User(r) == code && Provider(r) != code));
            var pushed = Figures(inYear.Where(r => Kind(r) == "push" && Provider(r) == code));

            Assert.Equal(served, Figures(card.GetProperty("served")));
            Assert.Equal(used, Figures(card.GetProperty("used")));
            Assert.Equal(pushed, Figures(card.GetProperty("pushed")));

            // And they are what the test did.
            Assert.Equal(year.PullsServedBy.GetValueOrDefault(code), served.Exchanges);
            Assert.Equal(year.PullsBy.GetValueOrDefault(code), used.Exchanges);
            Assert.Equal(year.PushesBy.GetValueOrDefault(code), pushed.Exchanges);
        }

        var police = Card(cards, year.Police);
        Assert.True(police.GetProperty("served").GetProperty("rows").GetInt64() > 0);
        Assert.Equal(3, police.GetProperty("catalog").GetProperty("resources").GetInt32());
        Assert.Equal(8, police.GetProperty("catalog").GetProperty("items").GetInt32()); // two shared entries of four shareable items
        Assert.Equal((1, 1, 1), (police.GetProperty("catalog").GetProperty("unconditional").GetInt32(), police.GetProperty("catalog").GetProperty("conditional").GetInt32(), police.GetProperty("catalog").GetProperty("notShared").GetInt32()));

        var requests = police.GetProperty("requests");
        Assert.Equal(4, requests.GetProperty("received").GetInt32());
        Assert.Equal(3, requests.GetProperty("answered").GetInt32());
        Assert.Equal(2, requests.GetProperty("answeredInTime").GetInt32());
        Assert.Equal(1, requests.GetProperty("answeredLate").GetInt32());
        Assert.Equal([2, 4, 16], requests.GetProperty("responseWorkingDays").EnumerateArray().Select(d => d.GetInt32()));
        Assert.Equal(4, requests.GetProperty("medianWorkingDays").GetDouble());
        Assert.Equal(16, requests.GetProperty("p90WorkingDays").GetDouble());
        Assert.Equal(2, requests.GetProperty("overdue").GetInt32()); // answered late, and never answered

        var freshness = police.GetProperty("freshness");
        Assert.Equal((2, 1, 1), (freshness.GetProperty("resources").GetInt32(), freshness.GetProperty("onTime").GetInt32(), freshness.GetProperty("late").GetInt32()));
        var open = freshness.GetProperty("perResource").EnumerateArray().Single(r => r.GetProperty("late").GetBoolean());
        Assert.Equal(YearOfActivity.PoliceOpen, open.GetProperty("resourceCode").GetString());
        Assert.Equal(10, open.GetProperty("pushesInPeriod").GetInt32());

        // The April push was due again by 25 May (a month, then 10 working days past the holiday week and its adjusted Saturday).
        Assert.Equal($"{year.Year}-05-25", open.GetProperty("lateSpells")[0].GetProperty("due").GetString());

        Assert.Equal(3, police.GetProperty("maintenance").GetProperty("maintainedWithinYear").GetInt32());
        Assert.Equal(6, police.GetProperty("maintenance").GetProperty("changesInPeriod").GetInt32()); // three created, three maintained
        var disputes = police.GetProperty("disputes");
        Assert.Equal((1, 1, 1, 1, 0), (disputes.GetProperty("received").GetInt32(), disputes.GetProperty("answered").GetInt32(), disputes.GetProperty("answeredOnTime").GetInt32(), disputes.GetProperty("corrected").GetInt32(), disputes.GetProperty("overdue").GetInt32()));

        var health = Card(cards, year.Health).GetProperty("freshness");
        Assert.Equal((1, 0, 1), (health.GetProperty("resources").GetInt32(), health.GetProperty("onTime").GetInt32(), health.GetProperty("late").GetInt32()));
        Assert.Equal(2, health.GetProperty("perResource")[0].GetProperty("lateSpells").GetArrayLength());
    }

    [Fact]
    public async Task Scorecards_OneMonth_CountOnlyThatMonth()
    {
        var may = await Get(year.Env.Operator, $"v1/operator/evaluation/scorecards?from={year.Year}-05-01&to={year.Year}-05-31&department={year.Police.CreditCode}");
        var police = Assert.Single(may.GetProperty("departments").EnumerateArray());
        Assert.Equal(1, police.GetProperty("pushed").GetProperty("exchanges").GetInt64()); // the open resource was skipped in May
        Assert.Equal(4, police.GetProperty("served").GetProperty("exchanges").GetInt64()); // 2 + 1 open, 1 conditional
    }

    [Fact]
    public async Task Scan_YearOfActivity_FindsLateDataDisputeMisuseAndUncompiledCatalog()
    {
        var rules = year.Scan.GetProperty("new").EnumerateArray().Select(v => v.GetProperty("rule").GetString()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["catalog-not-compiled", "catalog-stale", "data-late", "data-late", "data-late", "dispute-confirmed", "purpose-mismatch", "request-overdue", "request-overdue"], rules);

        // Art. 25: March's request was answered late, October's never; both are the provider's.
        var overdue = year.Scan.GetProperty("new").EnumerateArray().Where(v => v.GetProperty("rule").GetString() == "request-overdue").ToList();
        Assert.All(overdue, v => Assert.Equal(year.Police.CreditCode, v.GetProperty("department").GetProperty("creditCode").GetString()));
        Assert.Equal([$"{year.Year}-03-23", $"{year.Year}-10-19"], overdue.Select(v => v.GetProperty("occurredOn").GetString()).Order(StringComparer.Ordinal));
        var stale = year.Scan.GetProperty("new").EnumerateArray().Single(v => v.GetProperty("rule").GetString() == "catalog-stale");
        Assert.Equal(YearOfActivity.HealthQuarterly, stale.GetProperty("resourceCode").GetString());
        var notCompiled = year.Scan.GetProperty("new").EnumerateArray().Single(v => v.GetProperty("rule").GetString() == "catalog-not-compiled");
        Assert.Equal(year.Civil.CreditCode, notCompiled.GetProperty("department").GetProperty("creditCode").GetString());

        // A second scan finds the same and records nothing.
        var again = await year.Env.ScanAsync();
        Assert.Equal(9, again.GetProperty("detected").GetInt32());
        Assert.Equal(0, again.GetProperty("recorded").GetInt32());
        // The stale entry's year of maintenance ran out in January: it belongs to the next year's report.
        Assert.Equal(8, (await Get(year.Env.Operator, $"v1/operator/evaluation/violations?year={year.Year}")).GetArrayLength());
    }

    [Fact]
    public async Task Report_Json_YearTotalsAndMonths()
    {
        var report = await Get(year.Env.Operator, $"v1/operator/evaluation/report/{year.Year}.json");
        Assert.Equal($"{year.Year + 1}-01-15", report.GetProperty("dueBy").GetString());
        Assert.True(report.GetProperty("yearComplete").GetBoolean());
        var pulls = year.PullsBy.Values.Sum();
        Assert.Equal(pulls, report.GetProperty("summary").GetProperty("pulls").GetProperty("exchanges").GetInt32());
        Assert.Equal(year.PushesBy.Values.Sum(), report.GetProperty("summary").GetProperty("pushes").GetProperty("exchanges").GetInt32());
        var months = report.GetProperty("months").EnumerateArray().ToList();
        Assert.Equal(12, months.Count);
        Assert.Equal(pulls, months.Sum(m => m.GetProperty("pulls").GetInt32()));
        Assert.Equal([3, 2, 2, 2, 1, 2, 3, 2, 2, 2, 2, 2], months.Select(m => m.GetProperty("pushes").GetInt32()));
        Assert.Equal(8, report.GetProperty("violations").GetProperty("total").GetInt32());

        var one = await Get(year.Env.Operator, $"v1/operator/evaluation/report/{year.Year}.json?department={year.Health.CreditCode}");
        Assert.Equal(year.Health.CreditCode, one.GetProperty("department").GetProperty("creditCode").GetString());
        Assert.Single(one.GetProperty("departments").EnumerateArray());
        Assert.Equal(2, one.GetProperty("violations").GetProperty("total").GetInt32()); // its two late spells
    }

    [Fact]
    public async Task DepartmentScorecard_ExchangeListener_OwnFiguresOnly()
    {
        var own = await Get(year.Civil.Client, $"v1/evaluation/scorecard?{Period}");
        Assert.Equal(year.Civil.CreditCode, own.GetProperty("department").GetProperty("creditCode").GetString());
        Assert.Equal(year.PullsBy[year.Civil.CreditCode], own.GetProperty("used").GetProperty("exchanges").GetInt32());

        var bad = await ProblemAssert.IsProblemAsync(await year.Civil.Client.GetAsync("v1/evaluation/scorecard?from=2027-02-30&to=yesterday"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal(["from", "to"], Errors(bad).Select(e => e.Item1));
        await ProblemAssert.IsProblemAsync(await year.Civil.Client.GetAsync($"v1/evaluation/scorecard?from={year.Year}-12-31&to={year.Year}-01-01"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);

        // Each listener serves only its own routes.
        Assert.Equal(HttpStatusCode.NotFound, (await year.Env.Operator.GetAsync($"v1/evaluation/scorecard?{Period}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await year.Civil.Client.GetAsync($"v1/operator/evaluation/scorecards?{Period}")).StatusCode);
    }

    [Fact]
    public async Task ReportHtml_RenderedByChromium_ReadableWithoutConsoleErrors()
    {
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), $"{chromium} is missing: install Debian's chromium package (tests/run.sh does: apt-get install -y chromium).");

        var response = await year.Env.Operator.GetAsync($"v1/operator/evaluation/report/{year.Year}.html");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();

        // Self-contained: no script, nothing fetched (the SVG namespace is a name, not a request).
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" src=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" href=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(3, html.Split("<svg ").Length - 1); // the three charts
        Assert.Contains("Kunming Public Security Bureau", html, StringComparison.Ordinal);

        var folder = Path.Combine(year.Env.Pki.Root, "report-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var page = Path.Combine(folder, "report.html");
        await File.WriteAllTextAsync(page, html);
        var png = Path.Combine(folder, "report.png");
        var (exit, stderr) = await RunChromiumAsync(chromium, folder, "--enable-logging=stderr", "--v=0", $"--screenshot={png}", "--window-size=1280,2000", new Uri(page).AbsoluteUri);
        Assert.True(exit == 0, $"chromium exited with {exit}: {stderr}");
        var consoleErrors = stderr.Split('\n').Where(l => l.Contains("Uncaught", StringComparison.Ordinal) || (l.Contains(":CONSOLE", StringComparison.Ordinal) && l.Contains("ERROR", StringComparison.Ordinal))).ToList();
        Assert.True(consoleErrors.Count == 0, string.Join("\n", consoleErrors));

        var bytes = await File.ReadAllBytesAsync(png);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        Assert.Equal(1280, ReadInt32BigEndian(bytes, 16)); // IHDR width
        Assert.Equal(2000, ReadInt32BigEndian(bytes, 20)); // IHDR height
        Assert.True(bytes.Length > 50_000, $"the screenshot is only {bytes.Length} bytes: is the page empty?");

        // The DOM chromium built has the charts and tables the server wrote.
        var (domExit, dom) = await RunChromiumAsync(chromium, folder, "--dump-dom", new Uri(page).AbsoluteUri);
        Assert.Equal(0, domExit);
        Assert.Equal(3, dom.Split("<svg ").Length - 1);
        Assert.Contains("Department scorecards", dom, StringComparison.Ordinal);
        var keep = Environment.GetEnvironmentVariable("GOVSHARE_REPORT_PNG");
        if (!string.IsNullOrEmpty(keep))
        {
            File.Copy(png, keep, overwrite: true);
        }
    }

    private static int ReadInt32BigEndian(byte[] bytes, int offset) => System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset, 4));

    /// <summary>Runs headless chromium with a fresh profile; stdout for --dump-dom, else stderr.</summary>
    private static async Task<(int Exit, string Output)> RunChromiumAsync(string chromium, string folder, params string[] args)
    {
        var start = new ProcessStartInfo(chromium)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", $"--user-data-dir={Path.Combine(folder, "profile-" + Guid.NewGuid().ToString("N"))}" }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish within two minutes: " + await stderr);
        }

        return (process.ExitCode, args.Contains("--dump-dom") ? await stdout : await stderr);
    }

    private static JsonElement Card(JsonElement cards, Party party) =>
        cards.GetProperty("departments").EnumerateArray().Single(c => c.GetProperty("department").GetProperty("creditCode").GetString() == party.CreditCode);

    private static string Kind(JsonElement record) => record.GetProperty("kind").GetString()!;

    private static string? Provider(JsonElement record) => record.TryGetProperty("provider", out var p) ? p.GetString() : null;

    /// <summary>The credit code of the department the exchange was for: onBehalfOf, else caller (<c>govshare:dept/&lt;division&gt;/&lt;code&gt;</c>).</summary>
    private static string User(JsonElement record)
    {
        var uri = record.TryGetProperty("onBehalfOf", out var behalf) ? behalf.GetString()! : record.GetProperty("caller").GetString()!;
        return uri.StartsWith("govshare:dept/", StringComparison.Ordinal) ? uri.Split('/')[^1] : uri;
    }

    private static (long Exchanges, long Rows, long Bytes) Figures(IEnumerable<JsonElement> records)
    {
        var byId = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            byId.TryAdd(record.GetProperty("exchangeId").GetString()!, record);
        }

        return (byId.Count, byId.Values.Sum(r => r.TryGetProperty("rows", out var v) ? v.GetInt64() : 0), byId.Values.Sum(r => r.TryGetProperty("bytes", out var v) ? v.GetInt64() : 0));
    }

    private static (long Exchanges, long Rows, long Bytes) Figures(JsonElement figures) =>
        (figures.GetProperty("exchanges").GetInt64(), figures.GetProperty("rows").GetInt64(), figures.GetProperty("bytes").GetInt64());
}
