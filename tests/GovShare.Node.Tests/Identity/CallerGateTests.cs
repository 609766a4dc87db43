using System.Net;
using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Functional;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Identity;

/// <summary>
/// The node's own gate (<see cref="CallerGate"/> and, for nodes, <see cref="OnBehalfOfMiddleware"/>) in
/// place of ASP.NET's per-request authentication and authorization, tried against a real Kunming node
/// on loopback with real TLS: every endpoint of the exchange listener, found from the node's own route
/// table, refuses each caller the node does not admit — so an endpoint added later without the gate's
/// cover fails here — and a kept-alive connection, whose requests are admitted from the verdict
/// remembered on its certificate, is refused as soon as what the verdict cannot know changes.
/// </summary>
public sealed class CallerGateTests : KunmingWithOperatorTls
{
    [Fact]
    public async Task EveryExchangeEndpoint_RefusesEachCallerTheNodeDoesNotAdmit_BeforeItsHandlerRuns()
    {
        var endpoints = ExchangeEndpoints();
        Assert.True(endpoints.Count >= 20, $"Only {endpoints.Count} exchange endpoints found: the route table was not read.");
        var callers = new (string Who, X509Certificate2? Certificate, HttpStatusCode Status, string Type)[]
        {
            ("no certificate", null, HttpStatusCode.Unauthorized, ProblemTypes.CertificateRequired),
            ("an unregistered department", Pki.IssueDepartment("530100").Certificate, HttpStatusCode.Forbidden, ProblemTypes.DepartmentNotRegistered),
            ("an operator", Pki.IssueOperator("530100", "zhang.wei").Certificate, HttpStatusCode.Unauthorized, ProblemTypes.WrongListener),
            // The province's genuine node certificate, but the province is not linked with Kunming here.
            ("an unlinked node", Pki.NodeCertificate("530000"), HttpStatusCode.Forbidden, ProblemTypes.NodeNotLinked),
        };

        var before = Kunming.Services.GetRequiredService<LogWriter>().DurableSequence(LogKind.Exchange);
        foreach (var (who, certificate, status, type) in callers)
        {
            // One client a caller: its first request is judged by the certificate handler, the others
            // on the same kept-alive connection by the remembered verdict.
            using var client = Kunming.Client(certificate);
            foreach (var (method, path) in endpoints)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
                }

                using var response = await client.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == status && body.Contains(type, StringComparison.Ordinal), $"{method} {path} by {who}: expected {(int)status} {type}, got {(int)response.StatusCode}: {body}");
            }
        }

        // Refused before any handler: not one exchange was recorded.
        Assert.Equal(before, Kunming.Services.GetRequiredService<LogWriter>().DurableSequence(LogKind.Exchange));
    }

    [Fact]
    public async Task KeptAliveConnection_DepartmentRemovedBetweenRequests_NextRequest403NotRegistered()
    {
        var department = Pki.IssueDepartment("530100");
        Kunming.Register(department);
        using var client = Kunming.Client(department.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);

        Assert.True(Kunming.Services.GetRequiredService<DepartmentRegistry>().Remove(department.CreditCode));

        await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.Forbidden, ProblemTypes.DepartmentNotRegistered);
        Assert.Contains(Kunming.Logs, l => l.Contains("CallerNotRegistered", StringComparison.Ordinal) && l.Contains(department.CreditCode, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeptAliveConnection_NodeUnlinkedBetweenRequests_NextRequest403NotLinked()
    {
        var links = Kunming.Services.GetRequiredService<NodeLinkRegistry>();
        Assert.Empty(links.Link("530000", LinkRole.Parent, "https://127.0.0.1:1", Pki.NodeKey("530000"), out _));
        using var client = Kunming.Client(Pki.NodeCertificate("530000"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);

        Assert.True(links.Unlink("530000"));

        var problem = await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.Forbidden, ProblemTypes.NodeNotLinked);
        Assert.Contains("govshare node link", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(Kunming.Logs, l => l.Contains("NodeNotLinked", StringComparison.Ordinal) && l.Contains("govshare:node/530000", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeptAliveConnection_OnTheManagementListener_ADepartmentIsRefusedOnEveryRequest()
    {
        var department = Pki.IssueDepartment("530100");
        Kunming.Register(department);
        using var client = TestNode.ClientFor(Pki, Kunming.ManagementAddress, department.Certificate);
        for (var i = 0; i < 3; i++)
        {
            await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/operator/departments"), HttpStatusCode.Unauthorized, ProblemTypes.WrongListener);
        }
    }

    [Fact]
    public async Task UnknownPath_OnTheExchangeListener_404WhoeverCalls()
    {
        // Routing answers a path it does not know, as it did when authentication judged every request.
        using var anonymous = Kunming.Client(null);
        using var stranger = Kunming.Client(Pki.IssueDepartment("530100").Certificate);
        foreach (var client in new[] { anonymous, stranger })
        {
            await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/no-such-thing"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        }
    }

    /// <summary>Each endpoint the exchange listener serves (not marked for management), as a method and a path that reaches it.</summary>
    private List<(string Method, string Path)> ExchangeEndpoints()
    {
        var found = new List<(string, string)>();
        foreach (var endpoint in Kunming.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<ManagementEndpointAttribute>() is not null)
            {
                continue;
            }

            var path = string.Join('/', endpoint.RoutePattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(Part))));
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                found.Add((method, path));
            }
        }

        return found;
    }

    /// <summary>A value each route parameter accepts: a year where a number is asked for, a plain token otherwise.</summary>
    private static string Part(RoutePatternPart part) => part switch
    {
        RoutePatternLiteralPart literal => literal.Content,
        RoutePatternSeparatorPart separator => separator.Content,
        RoutePatternParameterPart { IsCatchAll: true } => "a/b",
        RoutePatternParameterPart parameter when parameter.ParameterPolicies.Any(p => p.Content is "int" or "long") => "2026",
        RoutePatternParameterPart => "x1",
        _ => throw new InvalidOperationException($"Unexpected route part {part}"),
    };
}

/// <summary>No other test runs beside this one: OpenTelemetry's listener takes ASP.NET's meters of every node in the process.</summary>
[CollectionDefinition(nameof(CallerGateMeterTests), DisableParallelization = true)]
public sealed class CallerGateMeterTestsRunAlone;

/// <summary>
/// What the gate saves, observed from outside: the certificate handler runs once for a kept-alive
/// connection, as ASP.NET's own authentication meter on the node's /metrics counts it.
/// </summary>
[Collection(nameof(CallerGateMeterTests))]
public sealed class CallerGateMeterTests : KunmingWithOperatorTls
{
    [Fact]
    public async Task KeptAliveConnection_TheCertificateHandlerJudgesItsFirstRequestOnly_TheGateTheRest()
    {
        // ASP.NET's own authentication meter (on /metrics) counts each time its certificate handler
        // runs: once for the connection, not once a request — neither the framework's middleware nor
        // a default scheme authenticates behind the gate's back. (The scrapes themselves, without a
        // certificate, count as runs without a result.)
        var department = Pki.IssueDepartment("530100");
        Kunming.Register(department);
        using var scraper = TestNode.ClientFor(Pki, Kunming.ManagementAddress, null);
        var before = HandlerRuns(await Hosting.MetricsTests.ScrapeAsync(scraper));

        using var client = Kunming.Client(department.Certificate);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
        }

        Assert.Equal(before + 1, HandlerRuns(await Hosting.MetricsTests.ScrapeAsync(scraper)));
    }

    private static double HandlerRuns(Hosting.MetricsTests.Scrape scrape) =>
        scrape.Sum("aspnetcore_authentication_authenticate_duration_seconds_count", ("aspnetcore_authentication_scheme", "Certificate"), ("aspnetcore_authentication_result", "success"));
}

/// <summary>A real Kunming node on loopback whose management listener speaks TLS (operators come with certificates).</summary>
public abstract class KunmingWithOperatorTls : IAsyncLifetime
{
    protected TestPki Pki { get; } = new();

    protected TestNode Kunming { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Kunming = await TestNode.StartAsync(Pki, "530100", s => s["Node:ManagementUrl"] = "https://127.0.0.1:0");

    public async Task DisposeAsync()
    {
        await Kunming.DisposeAsync();
        Pki.Dispose();
    }
}
