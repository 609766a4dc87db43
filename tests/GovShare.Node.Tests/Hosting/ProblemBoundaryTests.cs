using System.Net;
using GovShare.Contract;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GovShare.Node.Tests.Hosting;

/// <summary>The pipeline's outermost step (Hosting/ProblemBoundary) hands every error answer to ASP.NET's own exception handler (an endpoint faulting at once or after an await: the 500 problem, the framework's log line) and status-code pages (an error status with no body: its problem body).</summary>
public sealed class ProblemBoundaryTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private TestNode _node = null!;

    public async Task InitializeAsync() =>
        // The health endpoints' service throws: an endpoint failing as a bug would, on the management listener.
        _node = await TestNode.StartAsync(_pki, services: services => services.AddSingleton<HealthCheckService>(new FailingHealthChecks()));

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _pki.Dispose();
    }

    [Theory]
    [InlineData("/health")] // the endpoint's task faults at once
    [InlineData("/health/ready")] // it faults after an await
    public async Task UnhandledException_Is500ProblemAndTheFrameworksLogLine(string path)
    {
        using var client = _node.ManagementClient();

        var problem = await ProblemAssert.IsProblemAsync(await client.GetAsync(path), HttpStatusCode.InternalServerError, ProblemTypes.Internal);

        Assert.Equal(path, problem.GetProperty("instance").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        Assert.DoesNotContain(FailingHealthChecks.Message, problem.ToString()); // nothing of the exception leaves the node
        // One request, one line of the framework's: its category, event and level, as operators' log filters know them.
        Assert.Single(_node.Logs, line => line.StartsWith("Error Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware[1:UnhandledException]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EmptyErrorStatuses_GetTheirProblemBodies_OnBothListeners()
    {
        var department = _pki.IssueDepartment();
        _node.Register(department);
        using var exchange = _node.Client(department.Certificate);
        using var management = _node.ManagementClient();

        // No such route (routing), a route of the other listener (CallerGate), a method the route does not take (routing's 405).
        await ProblemAssert.IsProblemAsync(await exchange.GetAsync("/no-such-route"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await ProblemAssert.IsProblemAsync(await exchange.GetAsync("/metrics"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await ProblemAssert.IsProblemAsync(await exchange.DeleteAsync("/v1/identity"), HttpStatusCode.MethodNotAllowed, ProblemTypes.MethodNotAllowed);
        await ProblemAssert.IsProblemAsync(await management.GetAsync("/no-such-route"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await ProblemAssert.IsProblemAsync(await management.GetAsync("/v1/identity"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    /// <summary>Throws on every check: synchronously for the live and detail probes, after an await for readiness.</summary>
    private sealed class FailingHealthChecks : HealthCheckService
    {
        public const string Message = "health checks failed on purpose";

        public override Task<HealthReport> CheckHealthAsync(Func<HealthCheckRegistration, bool>? predicate, CancellationToken cancellationToken = default)
        {
            var ready = predicate?.Invoke(new HealthCheckRegistration("probe", _ => null!, null, ["ready"])) == true;
            return ready ? AfterAnAwaitAsync() : throw new InvalidOperationException($"{Message} at once");
        }

        private static async Task<HealthReport> AfterAnAwaitAsync()
        {
            await Task.Yield();
            throw new InvalidOperationException($"{Message} after an await");
        }
    }
}
