using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Management;
using GovShare.Node.OperatorConsole;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.OperatorConsole;

/// <summary>
/// Who gets into the operator console and what its pages may load, over real TLS on the management
/// listener: only an operator certificate of this node's division signs in; a department's
/// certificate, no certificate and the bootstrap token are refused; an action from another origin
/// decides nothing. (The browser journey is <see cref="ConsoleBrowserTests"/>.)
/// </summary>
public sealed partial class ConsoleAccessTests : IAsyncLifetime
{
    private static readonly string[] Pages = ["/console", "/console/reviews", "/console/violations", "/console/report", "/console/cases", "/console/departments", "/console/catalog?q=Kunming", "/console/logs"];

    private ExchangeFixture _env = null!;
    private TestDepartment _operator = null!;

    public async Task InitializeAsync()
    {
        _env = await ExchangeFixture.StartAsync(s => s["Node:ManagementUrl"] = "https://127.0.0.1:0");
        _operator = _env.Pki.IssueOperator("530100", "zhang.wei", "Zhang Wei");

        // A share-attribute change reported by the provider waits for the office (Art. 17).
        var catalog = _env.Node.Services.GetRequiredService<CatalogStore>();
        var current = catalog.Get(ExchangeFixture.Unconditional)!;
        Assert.True(catalog.Update(ExchangeFixture.Unconditional, current with { Share = new ShareAttributes(ShareType.Conditional, Condition: "Social assistance casework only") }, current.Version, ExchangeFixture.Caller(_env.Provider)).Succeeded);
        Assert.NotNull(catalog.Get(ExchangeFixture.Unconditional)!.ShareReview);
    }

    public async Task DisposeAsync()
    {
        await _env.DisposeAsync();
    }

    [Fact]
    public async Task NoCertificate_401_SignInWithYourOperatorCertificate()
    {
        using var client = Console(null);
        foreach (var page in Pages)
        {
            await ProblemAssert.IsProblemAsync(await client.GetAsync(page), HttpStatusCode.Unauthorized, ProblemTypes.CertificateRequired);
        }
    }

    [Fact]
    public async Task BootstrapToken_IsNotALogin_401()
    {
        // The token is the operator API's way in from loopback; the console wants a person.
        using var client = Console(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(_env.Node.DataPath));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/operator/departments")).StatusCode);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("console"), HttpStatusCode.Unauthorized, ProblemTypes.CertificateRequired);
        await ProblemAssert.IsProblemAsync(await client.PostAsync("console/violations/scan", Form(("x", "y"))), HttpStatusCode.Unauthorized, ProblemTypes.CertificateRequired);
    }

    [Fact]
    public async Task DepartmentCertificate_401WrongListener_OnEveryPage()
    {
        using var client = Console(_env.Provider.Certificate);
        foreach (var page in Pages)
        {
            await ProblemAssert.IsProblemAsync(await client.GetAsync(page), HttpStatusCode.Unauthorized, ProblemTypes.WrongListener);
        }
    }

    [Fact]
    public async Task OperatorOfAnotherDivision_403()
    {
        using var client = Console(_env.Pki.IssueOperator("530300", "li.na").Certificate);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("console"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
    }

    [Fact]
    public async Task ConsoleOnTheExchangeListener_404()
    {
        using var client = _env.Node.Client(_env.Provider.Certificate);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("console"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task EveryPage_StrictPolicy_NothingFromOutsideTheNode_InBothLanguages()
    {
        using var client = Console(_operator.Certificate);
        foreach (var language in new[] { "en", "zh" })
        {
            foreach (var page in Pages)
            {
                var response = await client.GetAsync(page + (page.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "lang=" + language);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(ConsoleApi.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
                Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
                var html = await response.Content.ReadAsStringAsync();
                AssertSelfContained(html, page);
                Assert.Contains("govshare:operator/530100/zhang.wei", html, StringComparison.Ordinal);
                Assert.Contains(language == "zh" ? "运维控制台" : "operator console", html, StringComparison.Ordinal);
            }
        }

        var css = await client.GetAsync("console/console.css");
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("url(", await css.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var report = await client.GetAsync($"console/report/{DateTime.UtcNow.AddHours(8).Year}.html");
        Assert.Equal(HttpStatusCode.OK, report.StatusCode);
        Assert.Equal(ConsoleApi.ReportContentSecurityPolicy, report.Headers.GetValues("Content-Security-Policy").Single());
        AssertSelfContained(await report.Content.ReadAsStringAsync(), "report");
        await ProblemAssert.IsProblemAsync(await client.GetAsync("console/report/2016.html"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Decision_FromAnotherOrigin_OrWithoutOne_403AndTheReviewStaysOpen()
    {
        using var client = Console(_operator.Certificate);
        var origin = $"https://{client.BaseAddress!.Authority}";
        foreach (var foreign in new[] { "https://evil.example", "null", $"https://localhost:{client.BaseAddress.Port + 1}" })
        {
            using var request = Decision("approve");
            request.Headers.Add("Origin", foreign);
            await ProblemAssert.IsProblemAsync(await client.SendAsync(request), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        }

        await ProblemAssert.IsProblemAsync(await client.SendAsync(Decision("approve")), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        using (var crossSite = Decision("approve"))
        {
            // Right origin, but the browser says the request came from another site's page.
            crossSite.Headers.Add("Origin", origin);
            crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
            await ProblemAssert.IsProblemAsync(await client.SendAsync(crossSite), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        }

        Assert.NotNull(_env.Node.Services.GetRequiredService<CatalogStore>().Get(ExchangeFixture.Unconditional)!.ShareReview);
    }

    [Fact]
    public async Task Decision_FromTheConsole_AppliesTheChange_AttributedToTheOperator()
    {
        using var client = Console(_operator.Certificate);
        using var rejectWithoutReason = Decision("reject");
        rejectWithoutReason.Headers.Add("Origin", $"https://{client.BaseAddress!.Authority}");
        // The client follows the 303 to the page, as a browser does.
        var refused = await client.SendAsync(rejectWithoutReason);
        Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
        Assert.StartsWith("/console/reviews?refused=", refused.RequestMessage!.RequestUri!.PathAndQuery, StringComparison.Ordinal);
        Assert.Contains("a rejection states its reason", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotNull(_env.Node.Services.GetRequiredService<CatalogStore>().Get(ExchangeFixture.Unconditional)!.ShareReview);

        using var approve = Decision("approve");
        approve.Headers.Add("Origin", $"https://{client.BaseAddress!.Authority}");
        approve.Headers.Add("Sec-Fetch-Site", "same-origin");
        var response = await client.SendAsync(approve);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("/console/reviews?done=", response.RequestMessage!.RequestUri!.PathAndQuery, StringComparison.Ordinal);

        var entry = _env.Node.Services.GetRequiredService<CatalogStore>().Get(ExchangeFixture.Unconditional)!;
        Assert.Null(entry.ShareReview);
        Assert.Equal(ShareType.Conditional, entry.Share.Type);
        Assert.Equal("govshare:operator/530100/zhang.wei", entry.LastShareDecision!.By);

        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("id=\"flash\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain($"id=\"approve-{ExchangeFixture.Unconditional}\"", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegisterAndRemoveDepartment_FromTheConsole_EachAChangeRecordNamingTheOperator()
    {
        using var client = Console(_operator.Certificate);
        var origin = $"https://{client.BaseAddress!.Authority}";
        var code = TestPki.NewCreditCode();
        var registry = _env.Node.Services.GetRequiredService<GovShare.Node.Identity.DepartmentRegistry>();

        // Every fault is listed and nothing is registered.
        var refused = await Post(client, origin, "console/departments/register", ("division", "999999"), ("credit", "not-a-code"), ("name", ""));
        Assert.StartsWith("/console/departments?refused=", refused.RequestMessage!.RequestUri!.PathAndQuery, StringComparison.Ordinal);
        Assert.Null(registry.Find("not-a-code"));

        var registered = await Post(client, origin, "console/departments/register", ("division", "530100"), ("credit", code), ("name", "Kunming Tax Bureau <b>"));
        Assert.StartsWith("/console/departments?done=", registered.RequestMessage!.RequestUri!.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal("Kunming Tax Bureau <b>", registry.Find(code)!.Name);
        var page = await registered.Content.ReadAsStringAsync();
        Assert.Contains("Kunming Tax Bureau &lt;b&gt;", page, StringComparison.Ordinal);
        Assert.DoesNotContain("Kunming Tax Bureau <b>", page, StringComparison.Ordinal);

        var removed = await Post(client, origin, "console/departments/remove", ("credit", code));
        Assert.StartsWith("/console/departments?done=", removed.RequestMessage!.RequestUri!.PathAndQuery, StringComparison.Ordinal);
        Assert.Null(registry.Find(code));

        var records = GovShare.Node.Logs.LogStore.ForDataFolder(_env.Node.DataPath).ReadEntries(GovShare.Node.Logs.LogKind.Change)
            .Select(e => e.Record).OfType<GovShare.Node.Logs.LogRecord>().Where(r => r.Entity == $"department/{code}").ToList();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal("govshare:operator/530100/zhang.wei", r.Caller));
    }

    [Fact]
    public void EveryLabel_HasBothLanguages()
    {
        foreach (var key in ConsoleText.Keys)
        {
            Assert.False(string.IsNullOrWhiteSpace(ConsoleText.Get(key, ConsoleLanguage.En)), key);
            Assert.False(string.IsNullOrWhiteSpace(ConsoleText.Get(key, ConsoleLanguage.Zh)), key);
        }
    }

    /// <summary>No script, no style attribute, and every address the page names is the node's own console.</summary>
    internal static void AssertSelfContained(string html, string page)
    {
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" style=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        foreach (Match match in Addresses().Matches(html))
        {
            var address = match.Groups["address"].Value;
            Assert.True(address.StartsWith("/console", StringComparison.Ordinal) || address.StartsWith('?') || address.StartsWith('#'), $"{page} names {address}");
        }

        // The only absolute URL is the SVG namespace, a name that is never fetched.
        foreach (Match match in AbsoluteUrls().Matches(html))
        {
            Assert.Equal("http://www.w3.org/2000/svg", match.Value);
        }
    }

    [GeneratedRegex("(?:src|href|action|srcset|poster|data)\\s*=\\s*\"(?<address>[^\"]*)\"", RegexOptions.IgnoreCase)]
    private static partial Regex Addresses();

    [GeneratedRegex("(?:https?:)?//[^\\s\"'<>)]+", RegexOptions.IgnoreCase)]
    private static partial Regex AbsoluteUrls();


    private static HttpRequestMessage Decision(string outcome) =>
        new(HttpMethod.Post, "console/reviews/decision") { Content = Form(("code", ExchangeFixture.Unconditional), ("outcome", outcome)) };

    private static async Task<HttpResponseMessage> Post(HttpClient client, string origin, string path, params (string Name, string Value)[] fields)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Form(fields) };
        request.Headers.Add("Origin", origin);
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    private HttpClient Console(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate) =>
        TestNode.ClientFor(_env.Pki, new Uri($"https://localhost:{_env.Node.ManagementAddress.Port}/"), certificate);
}
