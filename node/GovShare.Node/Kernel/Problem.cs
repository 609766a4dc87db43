using System.Diagnostics;
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
    public static Task WriteAsync(HttpContext context, int status, string type, string title, string? detail = null) =>
        ExecuteAsync(context, status, type, title, detail);

    /// <summary>
    /// Writes a problem straight to the response with its <c>instance</c> and <c>traceId</c> filled
    /// in here: when the client's Accept header rules out JSON (a pull asking for text/xml), ASP.NET's
    /// problem writer declines and the fallback writes neither, so a 406 came without them.
    /// </summary>
    public static Task ExecuteAsync(HttpContext context, int status, string type, string title, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problem = Details(status, type, title, detail, extensions);
        problem.Instance ??= context.Request.Path;
        problem.Extensions.TryAdd("traceId", Activity.Current?.Id ?? context.TraceIdentifier);
        context.Response.StatusCode = status;
        return TypedResults.Problem(problem).ExecuteAsync(context);
    }
}
