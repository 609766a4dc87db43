using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>Every exchange, change and query reaches the node's tamper-evident logs (Art. 28), and the chain verifies.</summary>
public sealed class ExchangeLoggingTests : IAsyncLifetime
{
    private ExchangeFixture _f = null!;

    public async Task InitializeAsync() => _f = await ExchangeFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    [Fact]
    public async Task PushAndPull_EachHasOneExchangeRecordWithItemsRowsAndCaller()
    {
        var push = await _f.PushAsync(Unconditional, 40);
        var pushId = push.Headers.GetValues("GovShare-Exchange-Id").Single();
        using var client = _f.Node.Client(_f.User.Certificate);
        using var pull = await client.SendAsync(Pull(Unconditional, "social-assistance", "姓名,公民身份号码"));
        var pullId = pull.Headers.GetValues("GovShare-Exchange-Id").Single();
        var pulledBytes = (await pull.Content.ReadAsByteArrayAsync()).Length;

        var records = Records(LogKind.Exchange);

        var pushed = Assert.Single(records, r => r.ExchangeId == pushId);
        Assert.Equal((ExchangeKind.Push, 40L, 200), (pushed.Kind, pushed.Rows, pushed.Status));
        Assert.Equal($"govshare:dept/530100/{_f.Provider.CreditCode}", pushed.Caller);
        var pulled = Assert.Single(records, r => r.ExchangeId == pullId);
        Assert.Equal((ExchangeKind.Pull, 40L, 200, "social-assistance"), (pulled.Kind, pulled.Rows, pulled.Status, pulled.Purpose));
        Assert.Equal(["name", "id_number"], pulled.Items);
        // The record is durable before the 8-byte end-of-stream marker goes out: it counts what came before.
        Assert.Equal(pulledBytes - 8, pulled.Bytes);
        Assert.Equal($"govshare:dept/530100/{_f.User.CreditCode}", pulled.Caller);
    }

    [Fact]
    public async Task Refusal_IsLoggedWithStatusAndProblemType()
    {
        await _f.PushAsync(Conditional, 5);
        using var client = _f.Node.Client(_f.User.Certificate);

        using var refused = await client.SendAsync(Pull(Conditional, "casework"));

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var id = refused.Headers.GetValues("GovShare-Exchange-Id").Single();
        var record = Assert.Single(Records(LogKind.Exchange), r => r.ExchangeId == id);
        Assert.Equal((403, ProblemTypes.NoGrant), (record.Status, record.ProblemType));
    }

    [Fact]
    public async Task PullsOnOneConnection_EachHasItsOwnIdAndRecord_ARefusalBetweenThemToo()
    {
        // The exchange id and the step are request features of a connection's reused feature collection:
        // none may be left over for the connection's next request (its id, or a refusal finding the last step).
        await _f.PushAsync(Unconditional, 2);
        using var client = _f.Node.Client(_f.User.Certificate);

        using var first = await client.SendAsync(Pull(Unconditional, "social-assistance"));
        using var refused = await client.SendAsync(Pull(Unconditional, purpose: null));
        using var second = await client.SendAsync(Pull(Unconditional, "social-assistance"));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.BadRequest, HttpStatusCode.OK), (first.StatusCode, refused.StatusCode, second.StatusCode));
        string[] ids = [.. new[] { first, refused, second }.Select(r => r.Headers.GetValues(GovShareHeaders.ExchangeId).Single())];
        Assert.Equal(3, ids.Distinct().Count());
        var records = Records(LogKind.Exchange);
        Assert.Equal([200, 400, 200], ids.Select(id => Assert.Single(records, r => r.ExchangeId == id).Status));
        Assert.Equal(ProblemTypes.PurposeRequired, records.Single(r => r.ExchangeId == ids[1]).ProblemType);
    }

    [Fact]
    public async Task CatalogReadAndChange_GoToQueryAndChangeLogs_AndEveryChainVerifies()
    {
        using var client = _f.Node.Client(_f.User.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/catalog?q=residents")).StatusCode);
        await _f.PushAsync(Unconditional, 3);

        var query = Assert.Single(Records(LogKind.Query), r => r.Entity == "/v1/catalog?q=residents");
        Assert.Equal((ExchangeKind.CatalogQuery, 200), (query.Kind, query.Status));
        var changes = Records(LogKind.Change);
        Assert.Equal(3, changes.Count(r => r.Kind == ExchangeKind.CatalogChange)); // the fixture's three entries
        Assert.Contains(changes, r => r.ResourceCode == Conditional && r.Caller.EndsWith(_f.Provider.CreditCode, StringComparison.Ordinal));

        using var certificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_f.Pki.Folder.IssuedFolder, "node-530100.crt"));
        using var key = certificate.GetECDsaPublicKey();
        foreach (var log in new[] { LogKind.Exchange, LogKind.Change, LogKind.Query })
        {
            var verification = LogVerifier.VerifyStore(LogStore.ForDataFolder(_f.Node.DataPath), log, key);
            Assert.True(verification.Ok, $"{log}: {verification.Message}");
        }
    }

    [Fact]
    public void GrantCreatedAndRevoked_BothInTheChangeLog()
    {
        var store = _f.Node.Services.GetRequiredService<GovShare.Node.Requests.ShareRequestStore>();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var created = store.CreateByOperator(new GovShare.Node.Requests.OperatorGrantInput(
            new GovShare.Node.Catalog.DepartmentRef(_f.User.Division, _f.User.CreditCode),
            Conditional,
            [new GovShare.Node.Requests.DecidedItem("name")],
            "casework",
            new GovShare.Node.Requests.UsePeriod(today, today.AddDays(30)),
            "operator decision 2026-17"));
        Assert.True(created.Succeeded, created.Detail ?? string.Join(" ", (created.Errors ?? []).Select(e => e.Message)));

        var grantChanges = Records(LogKind.Change).Where(r => r.Kind == ExchangeKind.GrantChange && r.Entity == $"grant/{created.Value!.Id}").ToList();

        Assert.Single(grantChanges);
        Assert.Equal(Conditional, grantChanges[0].ResourceCode);
    }

    [Fact]
    public async Task Statistics_CountTheExchangesFromTheLog()
    {
        await _f.PushAsync(Unconditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);
        for (var i = 0; i < 3; i++)
        {
            using var pull = await client.SendAsync(Pull(Unconditional, "stats"));
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        }

        var stats = await client.GetFromJsonAsync<JsonElement>("v1/stats?dimension=resource&period=day");

        var row = stats.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("key").GetString() == Unconditional);
        Assert.Equal(4, row.GetProperty("exchanges").GetInt64()); // one push, three pulls
    }

    private List<LogRecord> Records(LogKind log) =>
        LogStore.ForDataFolder(_f.Node.DataPath).ReadEntries(log).Select(e => e.Record).OfType<LogRecord>().ToList();
}
