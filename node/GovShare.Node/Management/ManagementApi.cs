using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GovShare.Node.Management;

/// <summary>A department registration as the operator submits it.</summary>
public sealed record DepartmentRegistration(string? DivisionCode, string? CreditCode, string? Name);

/// <summary>Health probes and the operator API, on the management listener only.</summary>
public static class ManagementApi
{
    /// <summary>The largest request body the management listener reads.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>
    /// Maps the health probes and the departments' registration, and returns the token-guarded
    /// <c>/v1/operator</c> group on which the composition root maps each feature's operator API.
    /// </summary>
    public static RouteGroupBuilder MapManagementApi(this IEndpointRouteBuilder endpoints)
    {
        // Operator requests are small; anything bigger is a mistake or an attack.
        var management = endpoints.MapGroup("").WithMetadata(new ManagementEndpointAttribute(), new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxRequestBytes));
        management.MapGet("/health/live", (HealthCheckService health, CancellationToken cancellation) => NodeHealth.ProbeAsync(health, HealthTags.Live, "live", "not live", cancellation));
        management.MapGet("/health/ready", (HealthCheckService health, CancellationToken cancellation) => NodeHealth.ProbeAsync(health, HealthTags.Ready, "ready", "not ready", cancellation));

        var operators = management.MapGroup("/v1/operator").AddEndpointFilter(async (context, next) =>
        {
            var token = context.HttpContext.RequestServices.GetRequiredService<OperatorToken>();
            var header = context.HttpContext.Request.Headers.Authorization.ToString();
            const string bearer = "Bearer ";
            if (!header.StartsWith(bearer, StringComparison.Ordinal) || !token.Matches(header[bearer.Length..]))
            {
                return Problem.Result(StatusCodes.Status401Unauthorized, ProblemTypes.OperatorTokenInvalid, "Operator token missing or wrong", $"Send 'Authorization: Bearer <token>' with the token in the node's {OperatorToken.FileName}.");
            }

            return await next(context);
        });

        operators.MapGet("/departments", IResult (DepartmentRegistry registry) => TypedResults.Ok(registry.All()));
        operators.MapPost("/departments", IResult (DepartmentRegistration? body, DepartmentRegistry registry) =>
        {
            if (body is null)
            {
                return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "A JSON body is required");
            }

            var errors = registry.Register(body.DivisionCode ?? "", body.CreditCode ?? "", body.Name ?? "", out var registered);
            return errors.Count > 0
                ? Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The registration is invalid", string.Join(" ", errors), new Dictionary<string, object?> { ["errors"] = errors })
                : TypedResults.Ok(registered);
        });
        operators.MapDelete("/departments/{creditCode}", IResult (string creditCode, DepartmentRegistry registry) =>
            registry.Remove(creditCode)
                ? Results.NoContent()
                : Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such department", $"No department {creditCode} is registered."));

        return operators;
    }
}
