using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Hosting;

/// <summary>
/// The outermost step of the pipeline: what ASP.NET's exception handler and status-code pages did
/// as two middleware, in one frame. Each request's error answer is still written by the framework's
/// own middleware: an exception goes to <c>UseExceptionHandler</c> (its problem+json, its
/// <c>IExceptionHandler</c>s, its log line and the <c>aspnetcore.diagnostics.exceptions</c>
/// series), an empty error status to <c>UseStatusCodePages</c> (the problem body through
/// <c>IProblemDetailsService</c>), each built as a side pipeline that only such a request enters.
/// </summary>
/// <remarks>
/// Why: a pull always completes later (it awaits its record's fsync), so each of the two framework
/// middleware kept its own awaiting frame alive per request, while nearly every answer needs
/// neither (benchmarks/results/profile-small-exchanges.txt, fix/pipe18). Here a successful request
/// pays one such frame and one check of its status; the checks that decide whether a status page
/// is written are the framework's, run again by its middleware before it writes.
/// </remarks>
internal sealed class ProblemBoundary(RequestDelegate next, RequestDelegate exceptions, RequestDelegate statusPages)
{
    /// <summary>Puts the boundary at this point of <paramref name="app"/>'s pipeline (its first step).</summary>
    public static void Use(IApplicationBuilder app, ExceptionHandlerOptions options)
    {
        // The framework's exception handler, whose "next" re-raises what the boundary caught: it
        // handles that exception exactly as if it had come from the pipeline behind it.
        var exceptionSide = app.New();
        exceptionSide.UseExceptionHandler(options);
        exceptionSide.Run(Rethrow);

        // The framework's status-code pages over a finished request: their own checks, then the problem body.
        var statusSide = app.New();
        statusSide.UseStatusCodePages();
        statusSide.Run(_ => Task.CompletedTask);

        var exceptionPipeline = exceptionSide.Build();
        var statusPagePipeline = statusSide.Build();
        app.Use(inner => new ProblemBoundary(inner, exceptionPipeline, statusPagePipeline).Invoke);
    }

    public Task Invoke(HttpContext context)
    {
        // Kept for whatever turns status pages off for its answer, as the framework's middleware offers it.
        var pages = new StatusCodePagesFeature();
        context.Features.Set<IStatusCodePagesFeature>(pages);
        Task task;
        try
        {
            task = next(context);
        }
        catch (Exception ex)
        {
            return Handle(context, ExceptionDispatchInfo.Capture(ex));
        }

        if (!task.IsCompletedSuccessfully)
        {
            return Awaited(context, pages, task);
        }

        return NeedsStatusPage(context, pages) ? StatusPageAsync(context) : Task.CompletedTask;
    }

    private async Task Awaited(HttpContext context, StatusCodePagesFeature pages, Task task)
    {
        ExceptionDispatchInfo caught;
        try
        {
            await task;
            if (!NeedsStatusPage(context, pages))
            {
                return;
            }

            await statusPages(context);
            return;
        }
        catch (Exception ex)
        {
            caught = ExceptionDispatchInfo.Capture(ex);
        }

        await Handle(context, caught);
    }

    /// <summary>A status page written off the success path: an exception writing it is handled as any other, as when the exception handler wrapped the status pages.</summary>
    private async Task StatusPageAsync(HttpContext context)
    {
        ExceptionDispatchInfo caught;
        try
        {
            await statusPages(context);
            return;
        }
        catch (Exception ex)
        {
            caught = ExceptionDispatchInfo.Capture(ex);
        }

        await Handle(context, caught);
    }

    /// <summary>The framework's status-code pages' own conditions (they are checked again there): an error status with no body yet.</summary>
    private static bool NeedsStatusPage(HttpContext context, StatusCodePagesFeature pages)
    {
        var response = context.Response;
        return pages.Enabled
            && !response.HasStarted
            && response.StatusCode is >= 400 and < 600
            && !response.ContentLength.HasValue
            && string.IsNullOrEmpty(response.ContentType);
    }

    private Task Handle(HttpContext context, ExceptionDispatchInfo caught)
    {
        context.Features.Set(new Caught(caught));
        return exceptions(context);
    }

    private static Task Rethrow(HttpContext context)
    {
        var caught = context.Features.Get<Caught>()!;
        context.Features.Set<Caught>(null);
        caught.Exception.Throw();
        return Task.CompletedTask;
    }

    /// <summary>The exception the boundary caught, handed to the exception handler's side pipeline.</summary>
    private sealed record Caught(ExceptionDispatchInfo Exception);
}
