using System.Net;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

/// <summary>The client side of the exchange contract, checked on the requests it sends.</summary>
public sealed class NodeClientTests
{
    [Fact]
    public void ResourceDataPath_CodeInUrlForm_SlashBecomesDash() =>
        Assert.Equal("v1/resources/101001-000001/data?mode=append", NodeClient.ResourceDataPath("101001/000001", "mode=append"));

    [Fact]
    public void ResourceDataPath_ReservedCharacters_AreEscaped() =>
        Assert.Equal("v1/resources/1-01%20A%3F/data", NodeClient.ResourceDataPath("1/01 A?"));

    [Fact]
    public async Task PushAsync_StagedDataset_PostsArrowStreamAndReadsReceipt()
    {
        HttpRequestMessage? seen = null;
        byte[] body = [];
        using var http = Client(async request =>
        {
            seen = request;
            body = await request.Content!.ReadAsByteArrayAsync();
            return Json(HttpStatusCode.OK, """{"exchangeId":"ex-1","version":3,"rows":2}""");
        });
        await using var staged = await StagedDataset.StageAsync(Batches(), Path.GetTempPath());

        var receipt = await new NodeClient(http).PushAsync("530100-01-0001", PushMode.Replace, staged);

        Assert.Equal(new PushReceipt("ex-1", 3, 2), receipt);
        Assert.Equal("https://node.test/v1/resources/530100-01-0001/data?mode=replace", seen!.RequestUri!.ToString());
        Assert.Equal(MediaTypes.ArrowStream, seen.Content!.Headers.ContentType!.MediaType);
        using var reader = new ArrowStreamReader(new MemoryStream(body));
        Assert.Equal(2, (await reader.ReadNextRecordBatchAsync())!.Length);
    }

    [Fact]
    public async Task PullAsync_Refused_ThrowsWithProblemBodyAndSendsPurpose()
    {
        HttpRequestMessage? seen = null;
        using var http = Client(request =>
        {
            seen = request;
            return Task.FromResult(Json(HttpStatusCode.Forbidden, """{"type":"urn:govshare:problem:not-granted","title":"Not granted"}"""));
        });

        var failure = await Assert.ThrowsAsync<NodeRefusedException>(async () =>
        {
            await foreach (var _ in new NodeClient(http).PullAsync("r1", ["name", "id number"], "P-01"))
            {
            }
        });

        Assert.Equal(HttpStatusCode.Forbidden, failure.Status);
        Assert.Contains("not-granted", failure.Body, StringComparison.Ordinal);
        Assert.Equal("P-01", Assert.Single(seen!.Headers.GetValues(GovShareHeaders.Purpose)));
        Assert.Equal("?items=name,id%20number", seen.RequestUri!.Query);
    }

    [Theory]
    [InlineData(new[] { "120000" }, 120_000L)]
    [InlineData(new[] { "0" }, 0L)]
    [InlineData(new string[0], null)]
    [InlineData(new[] { "-1" }, null)]
    [InlineData(new[] { "12e3" }, null)]
    [InlineData(new[] { "99999999999999999999" }, null)]
    [InlineData(new[] { "5", "6" }, null)]
    public void AnnouncedRows_OneNonNegativeNumber_ElseUnknown(string[] values, long? expected)
    {
        // A total the client cannot trust is no total: the progress line then shows none.
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        foreach (var value in values)
        {
            response.Headers.TryAddWithoutValidation(GovShareHeaders.DataRows, value);
        }

        Assert.Equal(expected, NodeClient.AnnouncedRows(response));
    }

    [Fact]
    public async Task PushAsync_BatchesAsMade_SendsEveryBatchInOrderThenTheEndOfStream()
    {
        byte[] body = [];
        using var http = Client(async request =>
        {
            body = await request.Content!.ReadAsByteArrayAsync();
            return Json(HttpStatusCode.OK, """{"exchangeId":"ex-2","version":1,"rows":15}""");
        });

        // The next batch is converted while the previous one is written: the order must hold.
        await new NodeClient(http).PushAsync("r1", PushMode.Replace, Numbered(5, failAt: null));

        using var reader = new ArrowStreamReader(new MemoryStream(body));
        var firsts = new List<string?>();
        while (await reader.ReadNextRecordBatchAsync() is { } batch)
        {
            firsts.Add(((StringArray)batch.Column(0)).GetString(0));
        }

        Assert.Equal(["batch 1", "batch 2", "batch 3", "batch 4", "batch 5"], firsts);
    }

    [Fact]
    public async Task PushAsync_SourceFailsPartWay_ThrowsTheSourcesFailureAndNoWholeStreamWasSent()
    {
        var sent = new MemoryStream();
        using var http = Client(async request =>
        {
            await request.Content!.CopyToAsync(sent); // throws when the source fails mid-way, as a cut upload does
            return Json(HttpStatusCode.OK, """{"exchangeId":"ex-3","version":1,"rows":15}""");
        });

        var failure = await Assert.ThrowsAsync<InvalidDataException>(() => new NodeClient(http).PushAsync("r1", PushMode.Replace, Numbered(5, failAt: 3)));

        Assert.Equal("batch 3 does not convert", failure.Message);
        // Batches 1 and 2 may have gone out, never the end-of-stream marker: the node publishes nothing.
        var bytes = sent.ToArray();
        Assert.False(bytes.Length >= 8 && bytes.AsSpan(bytes.Length - 8).SequenceEqual(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 }));
    }

    private static async IAsyncEnumerable<RecordBatch> Numbered(int count, int? failAt)
    {
        var schema = new Schema.Builder().Field(ItemDataType.Utf8.ToField("name")).Build();
        for (var i = 1; i <= count; i++)
        {
            await Task.Yield();
            if (i == failAt)
            {
                throw new InvalidDataException($"batch {i} does not convert");
            }

            var array = new StringArray.Builder().Append($"batch {i}").Append("b").Append("c").Build();
            yield return new RecordBatch(schema, [array], 3);
        }
    }

    private static async IAsyncEnumerable<RecordBatch> Batches()
    {
        await Task.Yield();
        var array = new StringArray.Builder().Append("a").Append("b").Build();
        yield return new RecordBatch(new Schema.Builder().Field(ItemDataType.Utf8.ToField("name")).Build(), [array], 2);
    }

    private static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, status == HttpStatusCode.OK ? "application/json" : "application/problem+json") };

    private static HttpClient Client(Func<HttpRequestMessage, Task<HttpResponseMessage>> answer) =>
        new(new Handler(answer)) { BaseAddress = new Uri("https://node.test/") };

    private sealed class Handler(Func<HttpRequestMessage, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => answer(request);
    }
}
