using System.Net;
using System.Net.Http.Headers;
using System.Text;
using GovShare.Contract;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>Every refusal of the evaluation API is problem+json with a stable type, and names every fault of its input.</summary>
public sealed class EvaluationApiTests : IAsyncLifetime
{
    private EvaluationNode _env = null!;

    public async Task InitializeAsync() => _env = await EvaluationNode.StartAsync();

    public async Task DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task Scorecards_BadDates_ValidationFailedNamingEach()
    {
        var both = await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/scorecards?from=2027-13-01&to=31/12/2027"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("from", "date.format"), ("to", "date.format")], Errors(both));
        var reversed = await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/scorecards?from=2027-06-02&to=2027-06-01"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("from", "period.reversed")], Errors(reversed));
        var tooLong = await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/scorecards?from=2017-01-01&to=2027-01-01"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("to", "period.tooLong")], Errors(tooLong));
        await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/scorecards?department=91530100MA0000000X"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Scorecards_NoDates_ThisYearToToday()
    {
        var police = _env.Department("Kunming Public Security Bureau");
        var set = await Get(_env.Operator, "v1/operator/evaluation/scorecards");
        Assert.Equal($"{_env.Year.Year}-01-01", set.GetProperty("from").GetString());
        Assert.Equal($"{_env.Year.Year}-01-04", set.GetProperty("to").GetString());
        Assert.Equal(police.CreditCode, Assert.Single(set.GetProperty("departments").EnumerateArray()).GetProperty("department").GetProperty("creditCode").GetString());
    }

    [Fact]
    public async Task Violations_BadFilters_ValidationFailedNamingEach()
    {
        var problem = await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/violations?status=open&kind=1&year=99"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("status", "unknownValue"), ("kind", "unknownValue"), ("year", "year.format")], Errors(problem));
        Assert.Equal(0, (await Get(_env.Operator, "v1/operator/evaluation/violations?status=notified&kind=dataLate")).GetArrayLength());
    }

    [Fact]
    public async Task Violation_Unknown_NotFound()
    {
        await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/violations/vio-0000"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await ProblemAssert.IsProblemAsync(await Post(_env.Operator, "v1/operator/evaluation/violations/vio-0000/status", new { status = "rectified" }), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task ViolationStatus_BadBodies_RefusedBeforeTheStoreIsTouched()
    {
        const string url = "v1/operator/evaluation/violations/vio-0000/status";
        await ProblemAssert.IsProblemAsync(await PostRaw(_env.Operator, url, "{\"status\": \"rectified\""), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PostRaw(_env.Operator, url, "[1, 2]"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PostRaw(_env.Operator, url, "status=rectified", "application/x-www-form-urlencoded"), HttpStatusCode.UnsupportedMediaType, ProblemTypes.UnsupportedMediaType);
        await ProblemAssert.IsProblemAsync(await PostRaw(_env.Operator, url, "{\"status\":\"rectified\",\"note\":\"" + new string('x', 5000) + "\"}"), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);

        // Chunked, so no Content-Length announces the size: counted as it arrives.
        using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"note\":\"" + new string('y', 6000) + "\"}")));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        await ProblemAssert.IsProblemAsync(await _env.Operator.SendAsync(request), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);

        var invalid = await ProblemAssert.IsProblemAsync(await PostRaw(_env.Operator, url, "{\"status\":\"notified\",\"note\":7,\"by\":\"me\"}"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("status", "status.notSettable"), ("note", "type"), ("by", "unknownMember")], Errors(invalid));
        var missing = await ProblemAssert.IsProblemAsync(await PostRaw(_env.Operator, url, "{}"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("status", "required")], Errors(missing));
        var unknown = await ProblemAssert.IsProblemAsync(await PostRaw(_env.Operator, url, "{\"status\":\"forgiven\"}"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("status", "unknownValue")], Errors(unknown));
    }

    [Fact]
    public async Task Report_BadYearOrFormat_ValidationFailed()
    {
        var y = _env.Year.Year;
        var malformed = await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/report/20x7.pdf"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("year", "year.format"), ("format", "format.unknown")], Errors(malformed));
        var early = await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync("v1/operator/evaluation/report/2016.json"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("year", "year.range")], Errors(early));
        await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync($"v1/operator/evaluation/report/{y + 1}.html"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        await ProblemAssert.IsProblemAsync(await _env.Operator.GetAsync($"v1/operator/evaluation/report/{y}.json?department=91530100MA0000000X"), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        // The current year is reported, marked provisional.
        var current = await Get(_env.Operator, $"v1/operator/evaluation/report/{y}.json");
        Assert.False(current.GetProperty("yearComplete").GetBoolean());
        Assert.Contains("provisional", await (await _env.Operator.GetAsync($"v1/operator/evaluation/report/{y}.html")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OperatorEndpoints_WithoutToken_Unauthorized()
    {
        using var anonymous = _env.Node.ManagementClient();
        await ProblemAssert.IsProblemAsync(await anonymous.PostAsync("v1/operator/evaluation/violations/scan", null), HttpStatusCode.Unauthorized, ProblemTypes.OperatorTokenInvalid);
        await ProblemAssert.IsProblemAsync(await anonymous.GetAsync("v1/operator/evaluation/report/2027.html"), HttpStatusCode.Unauthorized, ProblemTypes.OperatorTokenInvalid);
    }

    [Fact]
    public async Task DepartmentScorecard_NoCertificate_Refused()
    {
        using var anonymous = _env.Node.Client(null);
        await ProblemAssert.IsProblemAsync(await anonymous.GetAsync("v1/evaluation/scorecard"), HttpStatusCode.Unauthorized, ProblemTypes.CertificateRequired);
    }

    /// <summary>
    /// While the logs' aggregates are first folded at start (no saved file after an upgrade: minutes
    /// at 10 M records), the node's pipeline answers the evaluation and <c>/v1/stats</c> with 503
    /// problem+json and Retry-After instead of holding the request on the aggregates' lock; once the
    /// fold ended they answer. The fold's state is set by hand, so nothing here depends on timing.
    /// </summary>
    [Fact]
    public async Task DuringTheFirstFoldAtStart_ScorecardsReportsAndStats_503AggregatesRebuildingWithRetryAfter()
    {
        var index = _env.Node.Services.GetRequiredService<GovShare.Node.Evaluation.EvaluationIndex>();
        var statistics = _env.Node.Services.GetRequiredService<GovShare.Node.Logs.ExchangeStatistics>();
        // The warm-up's own first fold of this small log is over before the state is set by hand.
        for (var i = 0; i < 600 && (index.FirstFold.Running || statistics.FirstFold.Running); i++)
        {
            await Task.Delay(100);
        }

        Assert.False(index.FirstFold.Running || statistics.FirstFold.Running, "the warm-up's first fold did not end within 60 s");
        var department = _env.Department("Kunming Civil Affairs Bureau");
        index.FirstFold.Begin();
        index.FirstFold.Patience = TimeSpan.Zero;
        statistics.FirstFold.Begin();
        statistics.FirstFold.Patience = TimeSpan.Zero;
        try
        {
            foreach (var response in new[]
            {
                await _env.Operator.GetAsync("v1/operator/evaluation/scorecards"),
                await _env.Operator.GetAsync($"v1/operator/evaluation/report/{_env.Year.Year}.json"),
                await department.Client.GetAsync("v1/evaluation/scorecard"),
                await department.Client.GetAsync("v1/stats"),
            })
            {
                var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable, ProblemTypes.AggregatesRebuilding);
                Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.RetryAfter?.Delta);
                Assert.Contains("brought up to date", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            index.FirstFold.End();
            statistics.FirstFold.End();
        }

        Assert.Equal(HttpStatusCode.OK, (await _env.Operator.GetAsync("v1/operator/evaluation/scorecards")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await department.Client.GetAsync("v1/stats")).StatusCode);
    }
}
