using System.Net;
using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>A department of a test node with its mTLS client.</summary>
internal sealed record Party(TestDepartment Department, HttpClient Client)
{
    public string CreditCode => Department.CreditCode;
}

/// <summary>
/// A real node on a clock the test moves, over the test calendar year (next year, with a holiday
/// week in May), talked to only through its HTTP API.
/// </summary>
internal sealed class EvaluationNode : IAsyncDisposable
{
    private EvaluationNode(TestPki pki, TestYear year, ManualClock clock, TestNode node)
    {
        Pki = pki;
        Year = year;
        Clock = clock;
        Node = node;
        Operator = RequestsHttp.Operator(node);
    }

    public TestPki Pki { get; }
    public TestYear Year { get; }
    public ManualClock Clock { get; }
    public TestNode Node { get; }
    public HttpClient Operator { get; }

    public static async Task<EvaluationNode> StartAsync(DateOnly? start = null, Action<Dictionary<string, string?>>? configure = null)
    {
        var pki = new TestPki();
        var year = TestYear.Next();
        var clock = new ManualClock(TestYear.At(start ?? new DateOnly(year.Year, 1, 4), 9));
        var node = await StartNodeAsync(pki, year, clock, configure);
        return new EvaluationNode(pki, year, clock, node);
    }

    /// <summary>Sets the node's clock to <paramref name="day"/> at <paramref name="hour"/> China time.</summary>
    public void At(DateOnly day, int hour = 10, int minute = 0) => Clock.Now = TestYear.At(day, hour, minute);

    public Party Department(string name)
    {
        // Certificates outlive the whole simulated year and the report after it.
        var department = Pki.IssueDepartment(name: name, notAfter: Clock.Now.AddDays(800));
        Node.Register(department);
        return new Party(department, Node.Client(department.Certificate));
    }

    /// <summary>Registers a resource (the exchange fixture's five items) through the catalog API.</summary>
    public static async Task CreateEntryAsync(Party provider, string code, ShareType share, UpdateCycle cycle)
    {
        var entry = ExchangeFixture.Entry(code, provider.Department, share switch
        {
            ShareType.Conditional => new ShareAttributes(ShareType.Conditional, Condition: "For casework only"),
            ShareType.NotShared => new ShareAttributes(ShareType.NotShared, Reason: "State secret"),
            _ => new ShareAttributes(ShareType.Unconditional),
        }) with
        { UpdateCycle = cycle };
        var response = await CatalogHttp.Send(provider.Client, HttpMethod.Post, "v1/catalog", entry);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The yearly maintenance of an entry (Art. 18): read it, write it back with a reviewed abstract.</summary>
    public static async Task MaintainEntryAsync(Party provider, string code, ShareType share, UpdateCycle cycle, string note)
    {
        using var current = await provider.Client.GetAsync($"v1/catalog/{ResourceCode.ToUrl(code)}");
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        var entry = ExchangeFixture.Entry(code, provider.Department, share switch
        {
            ShareType.Conditional => new ShareAttributes(ShareType.Conditional, Condition: "For casework only"),
            ShareType.NotShared => new ShareAttributes(ShareType.NotShared, Reason: "State secret"),
            _ => new ShareAttributes(ShareType.Unconditional),
        }) with
        { UpdateCycle = cycle, Abstract = note };
        var response = await CatalogHttp.Send(provider.Client, HttpMethod.Put, $"v1/catalog/{ResourceCode.ToUrl(code)}", entry, current.Headers.ETag!.Tag);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Pushes <paramref name="rows"/> rows; returns the receipt (exchange id, version).</summary>
    public static async Task<JsonElement> PushAsync(Party provider, string code, int rows)
    {
        using var content = ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(rows)));
        return await Ok(await provider.Client.PostAsync(ExchangeFixture.DataPath(code, "mode=replace"), content));
    }

    /// <summary>Pulls as <paramref name="user"/>; returns the status and, read whole, the body's length.</summary>
    public static async Task<(HttpStatusCode Status, long Bytes)> PullAsync(Party user, string code, string purpose, string? items = null)
    {
        using var request = ExchangeFixture.Pull(code, purpose, items);
        using var response = await user.Client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        return (response.StatusCode, body.LongLength);
    }

    /// <summary>The node's exchange or change log as stored, each record parsed on its own (not through the evaluation's code).</summary>
    public IReadOnlyList<(long Sequence, string Node, JsonElement Record)> ReadLog(LogKind log) =>
        [.. LogStore.ForDataFolder(Node.DataPath).ReadEntries(log)
            .Where(e => e.Type == LogEntryType.Record)
            .Select(e => (e.Sequence, e.Node, JsonDocument.Parse(e.RecordJson).RootElement.Clone()))];

    public async Task<JsonElement> ScanAsync() => await Ok(await Operator.PostAsync("v1/operator/evaluation/violations/scan", null));

    public async ValueTask DisposeAsync()
    {
        Operator.Dispose();
        await Node.DisposeAsync();
        Pki.Dispose();
    }
}
