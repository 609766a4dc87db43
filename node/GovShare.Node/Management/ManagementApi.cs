using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using GovShare.Node.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Management;

/// <summary>A department registration as the operator submits it.</summary>
public sealed record DepartmentRegistration(string? DivisionCode, string? CreditCode, string? Name);

/// <summary>A link as the operator submits it: the other node's division, its role, its exchange address.</summary>
public sealed record LinkRegistration(string? DivisionCode, Hierarchy.LinkRole? Role, string? Url);

/// <summary>Health probes and the operator API, on the management listener only.</summary>
public static class ManagementApi
{
    /// <summary>The largest request body the management listener reads.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapManagementApi(this IEndpointRouteBuilder endpoints)
    {
        // Operator requests are small; anything bigger is a mistake or an attack.
        var management = endpoints.MapGroup("").WithMetadata(new ManagementEndpointAttribute(), new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxRequestBytes));
        management.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" }));
        management.MapGet("/health/ready", (NodeDataFolder data) =>
        {
            // Ready when the database answers: a query, not just an open handle.
            _ = data.Database.GetCollectionNames().Count();
            return TypedResults.Ok(new { status = "ready" });
        });

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

        operators.MapCatalogOperatorApi();
        Requests.RequestsApi.MapRequestsOperatorApi(operators);
        Evaluation.EvaluationApi.MapEvaluationApi(operators, endpoints);
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

        operators.MapGet("/links", (Hierarchy.NodeLinkRegistry links, Hierarchy.LinkHealth health) =>
            TypedResults.Ok(links.All().Select(l => new { l.DivisionCode, l.Role, l.Url, l.LinkedAt, Health = health.Of(l.DivisionCode) })));
        operators.MapPost("/links", IResult (LinkRegistration? body, Hierarchy.NodeLinkRegistry links) =>
        {
            if (body is null)
            {
                return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "A JSON body is required");
            }

            Hierarchy.NodeLink? link = null;
            var errors = body.Role is { } role
                ? links.Link(body.DivisionCode ?? "", role, body.Url ?? "", out link)
                : ["role: 'parent' or 'child' is required."];
            return errors.Count > 0
                ? Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The link is invalid", string.Join(" ", errors), new Dictionary<string, object?> { ["errors"] = errors })
                : TypedResults.Ok(link);
        });
        operators.MapDelete("/links/{divisionCode}", IResult (string divisionCode, Hierarchy.NodeLinkRegistry links) =>
            links.Unlink(divisionCode)
                ? Results.NoContent()
                : Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such link", $"This node has no link to {divisionCode}."));
        return endpoints;
    }
}
