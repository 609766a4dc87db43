using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GovShare.Node.Identity;

/// <summary>What <c>GET /v1/identity</c> answers: who the node thinks the caller is.</summary>
public sealed record IdentityResponse(string Uri, string Kind, string DivisionCode, string? CreditCode, string? Name, string Node);

public static class IdentityApi
{
    public static IEndpointRouteBuilder MapIdentityApi(this IEndpointRouteBuilder endpoints, string nodeDivision)
    {
        endpoints.MapGet("/v1/identity", Results<Ok<IdentityResponse>, UnauthorizedHttpResult> (HttpContext context, DepartmentRegistry registry) =>
        {
            var caller = CallerIdentity.FromPrincipal(context.User);
            if (caller is null)
            {
                return TypedResults.Unauthorized();
            }

            var name = caller.CreditCode is { } code ? registry.Find(code)?.Name : null;
            return TypedResults.Ok(new IdentityResponse(caller.Uri, caller.Kind.ToString().ToLowerInvariant(), caller.DivisionCode, caller.CreditCode, name, nodeDivision));
        })
        .AnsweredLocally()
        .WithName("GetIdentity");
        return endpoints;
    }
}
