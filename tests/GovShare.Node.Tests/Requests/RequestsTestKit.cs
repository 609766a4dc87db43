using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Management;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Requests;

/// <summary>A clock the test sets; only the wall time is fake (timers and timestamps stay real).</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now.ToUniversalTime();
}

/// <summary>
/// A test calendar year: next year (so the node's clock can be set into it whatever year the
/// suite runs in), with one holiday week and an adjusted working Saturday, built around the
/// first Wednesday of May so the weekdays are known.
/// </summary>
public sealed record TestYear(int Year, DateOnly Wednesday)
{
    public static TestYear Next()
    {
        var year = WorkingDayCalendar.ToChinaDate(DateTimeOffset.UtcNow).Year + 1;
        var day = new DateOnly(year, 5, 1);
        while (day.DayOfWeek != DayOfWeek.Wednesday)
        {
            day = day.AddDays(1);
        }

        return new TestYear(year, day);
    }

    /// <summary>Thursday to the next Wednesday off; the Saturday after is worked.</summary>
    public string Json() =>
        $$"""
        { "year": {{Year}}, "region": "TEST", "source": "test calendar",
          "holidays": [ { "name": "test holiday", "from": "{{Wednesday.AddDays(1):yyyy-MM-dd}}", "to": "{{Wednesday.AddDays(7):yyyy-MM-dd}}" } ],
          "workingDays": [ { "date": "{{Wednesday.AddDays(10):yyyy-MM-dd}}", "note": "test adjusted working day" } ] }
        """;

    /// <summary>An instant on <paramref name="day"/> at <paramref name="hour"/>:<paramref name="minute"/> China Standard Time.</summary>
    public static DateTimeOffset At(DateOnly day, int hour, int minute = 0) =>
        new(day.ToDateTime(new TimeOnly(hour, minute)), WorkingDayCalendar.ChinaStandardTime);
}

/// <summary>Starting nodes and talking to the requests API in tests.</summary>
internal static class RequestsHttp
{
    public const string Conditional = "301100/000001";

    /// <summary>
    /// A node with the test calendar year; with a <paramref name="clock"/>, the node runs on it
    /// and the CRLs are republished to stay fresh until well after the clock's time.
    /// </summary>
    public static async Task<TestNode> StartNodeAsync(TestPki pki, TestYear year, ManualClock? clock = null, Action<Dictionary<string, string?>>? configure = null)
    {
        var holidays = Path.Combine(pki.Root, "holidays-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(holidays);
        await File.WriteAllTextAsync(Path.Combine(holidays, $"{year.Year}.json"), year.Json());
        if (clock is not null)
        {
            foreach (var ca in pki.Folder.AllAuthorities())
            {
                pki.Folder.PublishCrl(ca, DateTimeOffset.UtcNow, TimeSpan.FromDays(800));
            }
        }

        return await TestNode.StartAsync(pki, configure: s =>
        {
            s["Calendar:HolidayFolder"] = holidays;
            configure?.Invoke(s);
        }, services: clock is null ? null : s => s.AddSingleton<TimeProvider>(clock));
    }

    /// <summary>A registered department with a client; its certificate outlives the node's clock.</summary>
    public static (TestDepartment Department, HttpClient Client) Department(TestNode node, string name = "Test Bureau", ManualClock? clock = null)
    {
        var department = node.Pki.IssueDepartment(name: name, notAfter: (clock?.Now ?? DateTimeOffset.UtcNow).AddDays(400));
        node.Register(department);
        return (department, node.Client(department.Certificate));
    }

    public static HttpClient Operator(TestNode node)
    {
        var client = node.ManagementClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(node.DataPath));
        return client;
    }

    /// <summary>Registers a catalog entry of <paramref name="provider"/>: 公民身份号码, 姓名, 出生日期.</summary>
    public static async Task CreateEntryAsync(HttpClient provider, TestDepartment department, string code = Conditional, ShareType share = ShareType.Conditional)
    {
        var response = await CatalogHttp.Send(provider, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry(code, department, share));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    public static object Application(string code, DateOnly from, DateOnly to, params string[] items) => ApplicationFor("social-assistance", code, from, to, items);

    public static object ApplicationFor(string purpose, string code, DateOnly from, DateOnly to, params string[] items) => new
    {
        resourceCode = code,
        items,
        purpose = new { code = purpose, text = "最低生活保障资格审核" },
        legalBasis = "《社会救助暂行办法》第十一条",
        period = new { from, to },
        contact = new { name = "张三", phone = "0871-6361 0000", email = "zhang@example.gov.cn" },
    };

    public static async Task<HttpResponseMessage> Post(HttpClient client, string url, object body)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body, CatalogJson.Options), Encoding.UTF8, "application/json");
        return await client.PostAsync(url, content);
    }

    public static async Task<HttpResponseMessage> PostRaw(HttpClient client, string url, string body, string mediaType = "application/json")
    {
        using var content = new StringContent(body, Encoding.UTF8, mediaType);
        return await client.PostAsync(url, content);
    }

    public static async Task<JsonElement> Ok(HttpResponseMessage response, HttpStatusCode status = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> Get(HttpClient client, string url) => await Ok(await client.GetAsync(url));

    /// <summary>The (path, code) pairs of a validation problem.</summary>
    public static List<(string?, string?)> Errors(JsonElement problem) =>
        problem.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("path").GetString(), e.GetProperty("code").GetString())).ToList();

    public static DateOnly Today => WorkingDayCalendar.ToChinaDate(DateTimeOffset.UtcNow);
}
