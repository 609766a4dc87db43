using GovShare.Contract;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace GovShare.Node.Kernel;

/// <summary>Builds the node's problem+json responses, so every refusal has the same shape.</summary>
public static class Problem
{
    public const string ContentType = MediaTypes.Problem;

    public static ProblemDetails Details(int status, string type, string title, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails { Status = status, Type = type, Title = title, Detail = detail };
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                problem.Extensions[key] = value;
            }
        }

        return problem;
    }

    /// <summary>An endpoint result carrying a problem.</summary>
    public static IResult Result(int status, string type, string title, string? detail = null, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(Details(status, type, title, detail, extensions));

    /// <summary>Writes a problem straight to the response, for middleware and authentication events.</summary>
    public static Task WriteAsync(HttpContext context, int status, string type, string title, string? detail = null)
    {
        context.Response.StatusCode = status;
        return TypedResults.Problem(Details(status, type, title, detail)).ExecuteAsync(context);
    }
}
