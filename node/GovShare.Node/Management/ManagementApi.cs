using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Management;

/// <summary>A department registration as the operator submits it.</summary>
public sealed record DepartmentRegistration(string? DivisionCode, string? CreditCode, string? Name);

/// <summary>Health probes and the operator API, on the management listener only.</summary>
public static partial class ManagementApi
{
    /// <summary>The largest request body the management listener reads.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>The operator id under which the bootstrap token acts, e.g. <c>govshare:operator/530100/bootstrap</c>.</summary>
    public const string BootstrapOperatorId = "bootstrap";

    /// <summary>
    /// Maps the health probes and the departments' registration, and returns the operator-only
    /// <c>/v1/operator</c> group on which the composition root maps each feature's operator API.
    /// </summary>
    public static RouteGroupBuilder MapManagementApi(this IEndpointRouteBuilder endpoints)
    {
        // Operator requests are small; anything bigger is a mistake or an attack.
        var management = endpoints.MapGroup("").WithMetadata(new ManagementEndpointAttribute(), new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxRequestBytes));
        management.MapGet("/health/live", (HealthCheckService health, CancellationToken cancellation) => NodeHealth.ProbeAsync(health, HealthTags.Live, "live", "not live", cancellation));
        management.MapGet("/health", (HealthCheckService health, CancellationToken cancellation) => NodeHealth.DetailAsync(health, cancellation));
        management.MapGet("/health/ready", (HealthCheckService health, CancellationToken cancellation) => NodeHealth.ProbeAsync(health, HealthTags.Ready, "ready", "not ready", cancellation));

        var operators = management.MapGroup("/v1/operator").AddEndpointFilter(AdmitOperatorAsync);

        operators.MapGet("/departments", IResult (DepartmentRegistry registry) => TypedResults.Ok(registry.All()));
        operators.MapPost("/departments", IResult (HttpContext context, DepartmentRegistration? body, DepartmentRegistry registry) =>
        {
            if (body is null)
            {
                return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "A JSON body is required");
            }

            var errors = registry.Register(body.DivisionCode ?? "", body.CreditCode ?? "", body.Name ?? "", out var registered, by: OperatorAttribution.Of(context));
            if (errors.Count > 0)
            {
                return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The registration is invalid", string.Join(" ", errors), new Dictionary<string, object?> { ["errors"] = errors });
            }

            return TypedResults.Ok(registered);
        });
        operators.MapDelete("/departments/{creditCode}", IResult (HttpContext context, string creditCode, DepartmentRegistry registry) =>
        {
            if (!registry.Remove(creditCode, by: OperatorAttribution.Of(context)))
            {
                return Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such department", $"No department {creditCode} is registered.");
            }

            return Results.NoContent();
        });

        // The trust dates the node watches (TrustExpiryWatch), and a re-read of the CRL folder now —
        // after publishing new CRLs, instead of waiting for the next request to notice the files changed.
        operators.MapGet("/trust", IResult (TrustExpiryWatch watch) => TypedResults.Ok(TrustDates(watch)));
        operators.MapPost("/crl/refresh", IResult (CrlStore crls, TrustExpiryWatch watch) =>
        {
            _ = crls.Held(reread: true);
            return TypedResults.Ok(TrustDates(watch));
        });

        // An online backup (NodeBackup): staged first, so a failure is a problem, not a truncated tar.
        // The body has no size limit and the client should have no timeout: it is the whole node.
        operators.MapGet("/backup", (NodeBackup backup, ILogger<NodeBackup> logger, CancellationToken cancellation) => BackupAsync(backup, null, logger, cancellation));

        // An incremental backup: the body names the previous backup and its files; its immutable files are not sent again.
        operators.MapPost("/backup", (BackupSince since, NodeBackup backup, ILogger<NodeBackup> logger, CancellationToken cancellation) => BackupAsync(backup, since, logger, cancellation));

        return operators;
    }

    private static async Task<IResult> BackupAsync(NodeBackup backup, BackupSince? since, ILogger<NodeBackup> logger, CancellationToken cancellation)
    {
        if (since is { Files: null } or { Id: null or "" })
        {
            return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "Not a backup manifest", "The body must name a previous backup of this node: its id, node and files (from its MANIFEST.json).");
        }

        string staged;
        try
        {
            staged = await backup.StageAsync(since, cancellation);
        }
        catch (NotSupportedException ex)
        {
            // PostgreSQL state: one replica's copy would not be the node's; the database has its own tools.
            return Problem.Result(StatusCodes.Status409Conflict, ProblemTypes.BackupNotSupported, "This node is not backed up by itself", ex.Message);
        }
        catch (ArgumentException ex)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "Not a backup of this node", ex.Message);
        }

        LogBackupStaged(logger, staged);
        return Results.Stream(
            async output =>
            {
                try
                {
                    await NodeBackup.WriteTarAsync(staged, output, cancellation);
                }
                finally
                {
                    NodeBackup.Discard(staged);
                }
            },
            "application/x-tar",
            $"govshare-backup-{Path.GetFileName(staged)}.tar");
    }

    [LoggerMessage(EventId = 2005, EventName = "BackupStaged", Level = LogLevel.Information, Message = "Backup staged in {Folder}; streaming it to the operator")]
    private static partial void LogBackupStaged(ILogger logger, string folder);

    private static IReadOnlyList<TrustDate> TrustDates(TrustExpiryWatch watch) =>
        [.. watch.Check().Select(i => new TrustDate(i.Kind, i.Subject, i.At, (long)Math.Round(i.Left.TotalSeconds), i.Warn))];

    /// <summary>
    /// Admits a person: an operator certificate of this node's division (mTLS on the management
    /// listener), or the bootstrap token from loopback only. The token is the way in before any
    /// operator certificate exists; its use is logged as bootstrap each time and attributed to
    /// <c>govshare:operator/&lt;division&gt;/bootstrap</c>, so it is never mistaken for a person.
    /// </summary>
    private static async ValueTask<object?> AdmitOperatorAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var node = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<NodeOptions>>().Value;
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GovShare.Node.Management");
        if (CallerIdentity.FromPrincipal(http.User) is { Kind: CallerKind.Operator } person)
        {
            if (person.DivisionCode != node.DivisionCode)
            {
                LogOperatorRefused(logger, person.Uri, http.Request.Path);
                return Problem.Result(StatusCodes.Status403Forbidden, ProblemTypes.Forbidden, "Not an operator of this node", $"{person.Uri} operates division {person.DivisionCode}; this node is {node.DivisionCode}.");
            }

            LogOperatorAction(logger, person.Uri, http.Request.Method, http.Request.Path);
            return await next(context);
        }

        var token = http.RequestServices.GetRequiredService<OperatorToken>();
        var header = http.Request.Headers.Authorization.ToString();
        const string bearer = "Bearer ";
        if (!header.StartsWith(bearer, StringComparison.Ordinal) || !token.Matches(header[bearer.Length..]))
        {
            return Problem.Result(StatusCodes.Status401Unauthorized, ProblemTypes.OperatorTokenInvalid, "Operator certificate or token missing or wrong", $"Connect with an operator certificate (govshare:operator/{node.DivisionCode}/<id>, 'govshare certs operator'), or, on the node's host only, send 'Authorization: Bearer <token>' with the bootstrap token in the node's {OperatorToken.FileName}.");
        }

        if (http.Connection.RemoteIpAddress is not { } remote || !System.Net.IPAddress.IsLoopback(remote))
        {
            LogBootstrapRefused(logger, http.Connection.RemoteIpAddress, http.Request.Path);
            return Problem.Result(StatusCodes.Status401Unauthorized, ProblemTypes.OperatorTokenInvalid, "The bootstrap token is accepted from loopback only", $"Off the node's host, connect with an operator certificate (govshare:operator/{node.DivisionCode}/<id>).");
        }

        var bootstrap = CallerIdentity.Operator(node.DivisionCode, BootstrapOperatorId);
        http.User = bootstrap.ToPrincipal("operator-token");
        LogBootstrapUsed(logger, http.Request.Method, http.Request.Path);
        return await next(context);
    }

    [LoggerMessage(EventId = 2001, EventName = "OperatorAction", Level = LogLevel.Information, Message = "Operator {Operator}: {Method} {Path}")]
    private static partial void LogOperatorAction(ILogger logger, string @operator, string method, PathString path);

    [LoggerMessage(EventId = 2002, EventName = "OperatorBootstrapTokenUsed", Level = LogLevel.Warning, Message = "Bootstrap operator token used from loopback: {Method} {Path}; issue operator certificates ('govshare certs operator') so actions name a person")]
    private static partial void LogBootstrapUsed(ILogger logger, string method, string path);

    [LoggerMessage(EventId = 2003, EventName = "OperatorBootstrapTokenRefused", Level = LogLevel.Warning, Message = "Bootstrap operator token refused from non-loopback {Remote} for {Path}")]
    private static partial void LogBootstrapRefused(ILogger logger, System.Net.IPAddress? remote, string path);

    [LoggerMessage(EventId = 2004, EventName = "OperatorOfOtherDivisionRefused", Level = LogLevel.Warning, Message = "Refused operator {Operator} of another division for {Path}")]
    private static partial void LogOperatorRefused(ILogger logger, string @operator, string path);
}

/// <summary>One trust date in <c>GET /v1/operator/trust</c> and <c>POST /v1/operator/crl/refresh</c>: what, whose, when, seconds left, whether it is within the warning's reach.</summary>
public sealed record TrustDate(ExpiryKind Kind, string Subject, DateTimeOffset At, long SecondsLeft, bool Warn);
