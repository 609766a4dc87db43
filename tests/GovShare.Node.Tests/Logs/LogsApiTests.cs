using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Logs;

public sealed class LogsApiTests
{
    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(LogWriter writer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(writer);
        builder.Services.AddSingleton<ExchangeStatistics>();
        var app = builder.Build();
        app.MapLogsApi();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new HttpClient { BaseAddress = new Uri(address) });
    }

    [Fact]
    public async Task GetStats_ByResourcePerMonth_ReturnsRowsFromTheExchangeLog()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        foreach (var i in Enumerable.Range(1, 6))
        {
            var record = LogFolder.Exchange(i, i % 2 == 0 ? "R-even" : "R-odd") with { Time = new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.FromHours(8)) };
            await open.Writer.AppendAsync(LogKind.Exchange, record);
        }

        var (app, client) = await StartAsync(open.Writer);
        await using var _ = app;
        using var __ = client;

        var response = await client.GetFromJsonAsync<JsonElement>("/v1/stats?dimension=resource&period=month&from=2026-05-01");

        var rows = response.GetProperty("rows").EnumerateArray().ToDictionary(r => r.GetProperty("key").GetString()!);
        Assert.Equal(3, rows["R-even"].GetProperty("exchanges").GetInt64());
        Assert.Equal(10 + 2 + 10 + 4 + 10 + 6, rows["R-even"].GetProperty("rows").GetInt64());
        Assert.Equal("2026-05-01", rows["R-odd"].GetProperty("periodStart").GetString());
        Assert.Equal("month", response.GetProperty("period").GetString());
    }

    [Fact]
    public async Task GetStats_BadParameters_ReportsEveryErrorAsProblem()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        var (app, client) = await StartAsync(open.Writer);
        await using var _ = app;
        using var __ = client;

        var response = await client.GetAsync(new Uri("/v1/stats?dimension=planet&period=1&from=2026-13-01&to=yesterday", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("urn:govshare:problem:validation-failed", problem.GetProperty("type").GetString());
        Assert.Equal(4, problem.GetProperty("errors").GetArrayLength());
    }
}
