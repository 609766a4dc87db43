using System.Diagnostics;
using GovShare.Contract;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Kernel;

/// <summary>
/// Writes every problem as <c>application/problem+json</c>, whatever the request's Accept header
/// says. ASP.NET's own writer declines a request whose Accept rules out JSON (a pull asking for
/// text/csv or the Arrow stream, a script sending <c>Accept: text/xml</c>); the fallback then wrote
/// the problem without the node's customisation — no <c>instance</c>, no <c>traceId</c>, no
/// refusal metric — and an unknown path got a plain-text "Status Code: 404". Errors are always
/// problem+json (README.md), so this writer is first and always writes: the same defaults as
/// ASP.NET's (status, title, traceId), then the node's customisation.
/// </summary>
internal sealed class ProblemJsonWriter(IOptions<ProblemDetailsOptions> problems, IOptions<JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        problem.Status ??= http.Response.StatusCode;
        if (problem.Title is null && ReasonPhrases.GetReasonPhrase(problem.Status.Value) is { Length: > 0 } reason)
        {
            problem.Title = reason;
        }

        problem.Extensions.TryAdd("traceId", Activity.Current?.Id ?? http.TraceIdentifier);
        problems.Value.CustomizeProblemDetails?.Invoke(context);
        return new ValueTask(http.Response.WriteAsJsonAsync(problem, json.Value.SerializerOptions, MediaTypes.Problem, http.RequestAborted));
    }
}
