using System.Net;
using System.Net.Http.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Management;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using OpenQA.Selenium;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.OperatorConsole;

/// <summary>
/// A real <c>govshare node run</c> process with operators on TLS, some traffic, a pending share
/// review and refused pulls — and an operator's browser: sign in with the certificate, approve the
/// review, scan and see the violation, open the annual report, every page checked for its content
/// and kept as a screenshot (<c>artifacts/console/</c> beside the test assembly, printed by the
/// test). The node is stopped with SIGTERM and must exit 0.
/// </summary>
public sealed class ConsoleBrowserTests(ConsoleBrowserTests.Node node, ITestOutputHelper output) : IClassFixture<ConsoleBrowserTests.Node>
{
    /// <summary>Where the screenshots are kept (tests/run.sh prints it).</summary>
    public static readonly string Artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts", "console");

    [Fact]
    public async Task Operator_SignsInWithCertificate_ApprovesReview_SeesViolation_OpensReport_EveryPageFromTheNodeOnly()
    {
        using var browser = await ConsoleBrowser.StartAsync(node.Pki.Root, node.Console, node.Operator.Certificate, node.RootCertificate);

        // Signed in by the certificate alone: the page names the operator.
        browser.Open("/console?lang=en");
        Assert.Equal("govshare:operator/530100/wang.fang", browser.WaitFor(By.Id("operator")).Text);
        Assert.Equal("3", browser.Driver.FindElement(By.Id("tile-departments")).FindElement(By.ClassName("value")).Text);
        Assert.NotEmpty(browser.Driver.FindElements(By.CssSelector("#chart-volume svg rect.bar")));
        Assert.Contains("no-grant", browser.Driver.FindElement(By.Id("chart-refusals")).GetAttribute("innerHTML"), StringComparison.Ordinal);
        Assert.Contains("Kafka is not configured", browser.Text, StringComparison.Ordinal);
        Assert.NotEmpty(browser.Driver.FindElements(By.CssSelector("#health td")));
        Shot(browser, "1-overview");

        // The pending review: approve it; the change applies and names the operator.
        browser.Driver.FindElement(By.LinkText("Reviews")).Click();
        var row = browser.WaitFor(By.Id("share-reviews")).Text;
        Assert.Contains(Node.Reviewed, row, StringComparison.Ordinal);
        Assert.Contains("Conditional (Casework only)", row, StringComparison.Ordinal);
        Shot(browser, "2-reviews");
        browser.ClickToNewPage(By.Id($"approve-{Node.Reviewed}"));
        Assert.Contains("Decision recorded", browser.WaitFor(By.Id("flash")).Text, StringComparison.Ordinal);
        Assert.Empty(browser.Driver.FindElements(By.Id($"approve-{Node.Reviewed}")));
        var entry = await node.ProviderClient.GetFromJsonAsync<CatalogEntry>($"v1/catalog/{ResourceCode.ToUrl(Node.Reviewed)}", CatalogJson.Options);
        Assert.Equal(ShareType.Conditional, entry!.Share.Type);
        Assert.Equal("govshare:operator/530100/wang.fang", entry.LastShareDecision!.By);
        Shot(browser, "3-review-approved");

        // The refused pulls become a violation at the next scan.
        browser.Driver.FindElement(By.LinkText("Violations")).Click();
        browser.WaitFor(By.Id("scan"));
        browser.ClickToNewPage(By.Id("scan"));
        Assert.Contains("Scan finished", browser.WaitFor(By.Id("flash")).Text, StringComparison.Ordinal);
        var violations = browser.WaitFor(By.Id("violations")).Text;
        Assert.Contains("repeated-no-grant", violations, StringComparison.Ordinal);
        Assert.Contains("Kunming Civil Affairs Bureau", violations, StringComparison.Ordinal);
        Assert.Contains("Notified", violations, StringComparison.Ordinal);
        Shot(browser, "4-violations");

        // The annual report: the console's summary, then the evaluation's full report with its charts.
        browser.Driver.FindElement(By.LinkText("Annual report")).Click();
        Assert.NotEmpty(browser.WaitFor(By.Id("chart-months")).FindElements(By.CssSelector("rect.bar")));
        Assert.Equal("1", browser.Driver.FindElement(By.Id("tile-report-violations")).FindElement(By.ClassName("value")).Text);
        Shot(browser, "5-report");
        browser.ClickToNewPage(By.Id("full-report"));
        browser.WaitFor(By.TagName("h1"));
        Assert.Contains("annual evaluation report", browser.Text, StringComparison.Ordinal);
        Assert.Contains("Exchanges per month", browser.Text, StringComparison.Ordinal);
        Assert.Contains("Response times to share requests", browser.Text, StringComparison.Ordinal);
        // Exchanges per month and freshness are drawn; response times have no answered request to draw yet.
        Assert.True(browser.Driver.FindElements(By.CssSelector("svg")).Count >= 2);
        Shot(browser, "6-report-full");

        browser.Open("/console/cases");
        Assert.NotEmpty(browser.WaitFor(By.Id("chart-week")).FindElements(By.TagName("svg")));
        var waiting = browser.Driver.FindElement(By.Id("requests")).Text;
        Assert.Contains(Node.Refused, waiting, StringComparison.Ordinal);
        Assert.Contains("Kunming Civil Affairs Bureau", waiting, StringComparison.Ordinal);
        Shot(browser, "7-cases");

        browser.Driver.FindElement(By.LinkText("Departments")).Click();
        Assert.Contains("Kunming Public Security Bureau", browser.WaitFor(By.Id("departments")).Text, StringComparison.Ordinal);
        Assert.Contains("Root", browser.Driver.FindElement(By.Id("trust")).Text, StringComparison.OrdinalIgnoreCase);
        Shot(browser, "8-departments");

        browser.Driver.FindElement(By.LinkText("Catalog")).Click();
        browser.WaitFor(By.Id("q")).SendKeys("residents 2");
        browser.ClickToNewPage(By.Id("search"));
        var found = browser.WaitFor(By.Id("catalog")).Text;
        Assert.Contains(Node.Refused, found, StringComparison.Ordinal);
        Assert.DoesNotContain(Node.Reviewed, found, StringComparison.Ordinal);
        Shot(browser, "9-catalog");

        browser.Driver.FindElement(By.LinkText("Logs")).Click();
        var logs = browser.WaitFor(By.Id("logs")).Text;
        Assert.Contains("exchange", logs, StringComparison.Ordinal);
        Assert.Contains("signature valid", logs, StringComparison.Ordinal);
        Shot(browser, "10-logs");

        // 中文: the switch, remembered on the next page.
        browser.ClickToNewPage(By.Id("language"));
        Assert.Contains("防篡改日志", browser.WaitFor(By.TagName("h1")).Text, StringComparison.Ordinal);
        browser.ClickToNewPage(By.LinkText("概览"));
        Assert.Contains("已注册部门", browser.WaitFor(By.Id("tile-departments")).Text, StringComparison.Ordinal);
        Shot(browser, "11-overview-zh");

        // Nothing the browser asked for came from anywhere but the node's console.
        // (chrome://, about: and data: are the browser's own pages and never leave it: its first blank tab loads some.)
        var requested = browser.RequestedUrls().Where(url => !url.StartsWith("chrome://", StringComparison.Ordinal) && !url.StartsWith("about:", StringComparison.Ordinal) && !url.StartsWith("data:", StringComparison.Ordinal)).ToList();
        // The node's origin only (the browser asks it for /favicon.ico by itself).
        var origin = $"{node.Console.Scheme}://{node.Console.Authority}/";
        Assert.Contains(requested, url => url == origin + "console/console.css");
        Assert.True(requested.Count >= 12, $"only {requested.Count} requests were logged: {string.Join(", ", requested)}");
        Assert.All(requested, url => Assert.True(url.StartsWith(origin, StringComparison.Ordinal), $"the browser requested {url}"));
        output.WriteLine($"Screenshots: {Artifacts}");
    }

    [Fact]
    public async Task DepartmentCertificate_InTheBrowser_IsRefused()
    {
        using var browser = await ConsoleBrowser.StartAsync(node.Pki.Root, node.Console, node.Provider.Certificate, node.RootCertificate);
        browser.Open("/console");
        var text = browser.WaitFor(By.TagName("body")).Text;
        Assert.Contains(ProblemTypes.WrongListener, text, StringComparison.Ordinal);
        Assert.Contains("is not an operator", text, StringComparison.Ordinal);
        Assert.Empty(browser.Driver.FindElements(By.Id("operator")));
        Shot(browser, "0-department-refused");
    }

    private void Shot(ConsoleBrowser browser, string name) => output.WriteLine($"screenshot {browser.Screenshot(Artifacts, name)}");

    /// <summary>The node process and what the journey needs in it, made through its own APIs.</summary>
    public sealed class Node : IAsyncLifetime
    {
        public const string Reviewed = "101001/000001";
        public const string Refused = "101001/000002";

        private NodeProcess _process = null!;

        public TestPki Pki { get; } = new();
        public TestDepartment Operator { get; private set; } = null!;
        public TestDepartment Provider { get; private set; } = null!;
        public HttpClient ProviderClient { get; private set; } = null!;
        public Uri Console { get; private set; } = null!;
        public string RootCertificate => Path.Combine(Pki.Root, "ca", "root", "ca.crt");

        public async Task InitializeAsync()
        {
            var settings = TestNode.DefaultSettings(Pki, "530100");
            var exchangePort = Loopback.FreePort();
            var managementPort = Loopback.FreePort();
            settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
            settings["Node:ManagementUrl"] = $"https://127.0.0.1:{managementPort}";
            // A signed checkpoint at the first append after a second (not five minutes), so the logs page has one to show.
            settings["Logs:CheckpointInterval"] = "00:00:01";
            _process = await NodeProcess.StartAsync(settings, managementPort);
            Console = new Uri($"https://localhost:{managementPort}/");

            Operator = Pki.IssueOperator("530100", "wang.fang", "Wang Fang");
            Provider = Pki.IssueDepartment(name: "Kunming Public Security Bureau");
            var user = Pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
            var other = Pki.IssueDepartment(name: "Kunming Health Commission");
            using (var operators = TestNode.ClientFor(Pki, Console, Operator.Certificate))
            {
                foreach (var department in new[] { Provider, user, other })
                {
                    var registered = await operators.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration(department.Division, department.CreditCode, department.Name));
                    Assert.True(registered.IsSuccessStatusCode, $"registering {department.Name}: {(int)registered.StatusCode}");
                }
            }

            var exchange = new Uri($"https://localhost:{exchangePort}/");
            ProviderClient = TestNode.ClientFor(Pki, exchange, Provider.Certificate);
            using var userClient = TestNode.ClientFor(Pki, exchange, user.Certificate);
            var open = ExchangeFixture.Entry(Reviewed, Provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await CatalogHttp.Send(ProviderClient, HttpMethod.Post, "v1/catalog", open)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await CatalogHttp.Send(ProviderClient, HttpMethod.Post, "v1/catalog", ExchangeFixture.Entry(Refused, Provider, new ShareAttributes(ShareType.Conditional, Condition: "Social assistance casework only")))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await ProviderClient.PostAsync(ExchangeFixture.DataPath(Reviewed), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(20))))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await userClient.SendAsync(ExchangeFixture.Pull(Reviewed, "P-2026-001"))).StatusCode);

            // Three pulls without a grant: a pattern, not a mistake (Art. 32) — a violation at the next scan.
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.Forbidden, (await userClient.SendAsync(ExchangeFixture.Pull(Refused, "P-2026-009"))).StatusCode);
            }

            // A share request the provider has 10 working days to answer (Art. 25).
            var today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));
            Assert.Equal(HttpStatusCode.Created, (await userClient.PostAsJsonAsync("v1/requests", RequestsHttp.ApplicationFor("P-2026-010", Refused, today, today.AddMonths(6), "name"))).StatusCode);

            // The provider reports a share-attribute change: it waits for the office (Art. 17).
            var reported = await CatalogHttp.Send(ProviderClient, HttpMethod.Put, $"v1/catalog/{ResourceCode.ToUrl(Reviewed)}", open with { Share = new ShareAttributes(ShareType.Conditional, Condition: "Casework only") }, ifMatch: "\"1\"");
            Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        }

        public async Task DisposeAsync()
        {
            ProviderClient?.Dispose();
            await _process.DisposeAsync();
            Pki.Dispose();
        }
    }
}
