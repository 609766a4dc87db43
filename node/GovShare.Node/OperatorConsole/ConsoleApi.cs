using System.Text;
using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.OperatorConsole;

/// <summary>
/// The operator console: server-rendered pages under <c>/console</c> on the management listener,
/// for operators signed in with their own certificate. The bootstrap token is not a login here:
/// it proves only that someone is on the node's host, and the console's actions must name a person
/// (Art. 29). Pages have no script; the Content-Security-Policy allows nothing from anywhere but
/// the node's own style sheet, and posts only to the node. Actions are refused unless the browser
/// says they come from the console's own origin (CSRF: a client certificate is sent by the browser
/// to any page that asks, like a cookie).
/// </summary>
public static partial class ConsoleApi
{
    /// <summary>The console's path prefix on the management listener.</summary>
    public const string Prefix = "/console";

    /// <summary>The console pages' policy: the node's own style sheet, no script, forms only to the node, never framed.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>The annual report's own page carries its style inline (it is also a file for printing); still nothing from elsewhere, no script.</summary>
    public const string ReportContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    private const string LanguageCookie = "govshare-console-lang";

    public static IServiceCollection AddGovShareOperatorConsole(this IServiceCollection services)
    {
        services.AddSingleton<RefusalTally>();
        services.AddSingleton<ConsolePages>();
        return services;
    }

    /// <summary>Maps the console on the management listener (the caller passes the endpoint builder, not the token-admitting operator group).</summary>
    public static void MapOperatorConsole(this IEndpointRouteBuilder endpoints)
    {
        // Created now, so the refusals since start are counted from the start.
        _ = endpoints.ServiceProvider.GetRequiredService<RefusalTally>();
        var console = endpoints.MapGroup(Prefix)
            .WithMetadata(new ManagementEndpointAttribute(), new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(16 * 1024))
            .AddEndpointFilter(AdmitSignedInOperatorAsync);

        console.MapGet("/console.css", () => Results.Text(ConsoleHtml.StyleSheet, "text/css", Encoding.UTF8));
        console.MapGet("", (HttpContext http, ConsolePages pages, CancellationToken cancellation) => PageAsync(http, c => pages.OverviewAsync(c, cancellation)));
        console.MapGet("/reviews", (HttpContext http, ConsolePages pages) => Page(http, pages.Reviews));
        console.MapGet("/violations", (HttpContext http, ConsolePages pages) => Page(http, pages.Violations));
        console.MapGet("/report", (HttpContext http, ConsolePages pages, int? year) => Page(http, c => pages.Report(c, year)));
        console.MapGet("/report/{year:int}.html", (HttpContext http, ConsolePages pages, int year) =>
        {
            if (pages.FullReport(year) is not { } html)
            {
                return Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such report", $"Reports exist for 2017 to the current year; {year} is not one.");
            }

            Secure(http, ReportContentSecurityPolicy);
            return Results.Content(html, "text/html", Encoding.UTF8);
        });
        console.MapGet("/cases", (HttpContext http, ConsolePages pages) => Page(http, pages.Cases));
        console.MapGet("/departments", (HttpContext http, ConsolePages pages) => Page(http, pages.Departments));
        console.MapGet("/catalog", (HttpContext http, ConsolePages pages, string? q, int? page) => Page(http, c => pages.Catalog(c, q, page ?? 1)));
        console.MapGet("/logs", (HttpContext http, ConsolePages pages) => Page(http, pages.Logs));

        var actions = console.MapGroup("").AddEndpointFilter(RefuseCrossSiteAsync);
        actions.MapPost("/reviews/decision", async (HttpContext http, ConsolePages pages) =>
            Redirect("/console/reviews", pages.DecideReview(await http.Request.ReadFormAsync(http.RequestAborted), OperatorAttribution.Of(http), Language(http))));
        actions.MapPost("/filings/decision", async (HttpContext http, ConsolePages pages) =>
            Redirect("/console/reviews", pages.DecideFiling(await http.Request.ReadFormAsync(http.RequestAborted), OperatorAttribution.Of(http), Language(http))));
        actions.MapPost("/departments/register", async (HttpContext http, ConsolePages pages) =>
            Redirect("/console/departments", pages.Register(await http.Request.ReadFormAsync(http.RequestAborted), OperatorAttribution.Of(http), Language(http))));
        actions.MapPost("/departments/remove", async (HttpContext http, ConsolePages pages) =>
            Redirect("/console/departments", pages.Remove(await http.Request.ReadFormAsync(http.RequestAborted), OperatorAttribution.Of(http), Language(http))));
        actions.MapPost("/violations/scan", (HttpContext http, ConsolePages pages) =>
            Redirect("/console/violations", pages.Scan(OperatorAttribution.Of(http), Language(http))));
    }

    private static IResult Page(HttpContext http, Func<ConsoleHtml, string> render) => Html(http, render(NewPage(http)));

    private static async Task<IResult> PageAsync(HttpContext http, Func<ConsoleHtml, Task<string>> render) => Html(http, await render(NewPage(http)));

    private static ConsoleHtml NewPage(HttpContext http)
    {
        var page = new ConsoleHtml(Language(http), http.Request.Path.Value ?? Prefix, OperatorAttribution.Of(http), http.RequestServices.GetRequiredService<IOptions<NodeOptions>>().Value.DivisionCode);

        // The outcome of the action that redirected here (encoded like any text; capped, it is only a message).
        var done = http.Request.Query["done"].ToString();
        var refused = http.Request.Query["refused"].ToString();
        return page.Flash(Cap(done.Length > 0 ? done : refused), ok: done.Length > 0);

        static string Cap(string text) => text.Length > 300 ? text[..300] : text;
    }

    private static IResult Html(HttpContext http, string html)
    {
        Secure(http, ContentSecurityPolicy);
        return Results.Content(html, "text/html", Encoding.UTF8);
    }

    /// <summary>After an action, back to its page with the outcome in the query (post/redirect/get: a reload never decides twice).</summary>
    private static SeeOther Redirect(string page, (bool Ok, string Message) outcome) =>
        new($"{page}?{(outcome.Ok ? "done" : "refused")}={Uri.EscapeDataString(outcome.Message)}");

    private static void Secure(HttpContext http, string policy)
    {
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = policy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        // Not no-referrer: under it the browser sends "Origin: null" with the console's own form posts,
        // which the CSRF check must refuse. same-origin keeps the console's addresses in the console.
        headers["Referrer-Policy"] = "same-origin";
        headers.CacheControl = "no-store";
    }

    /// <summary>The page's language: <c>?lang=</c> (remembered in a cookie), else the cookie, else the browser's preference.</summary>
    internal static ConsoleLanguage Language(HttpContext http)
    {
        if (Parse(http.Request.Query["lang"]) is { } asked)
        {
            http.Response.Cookies.Append(LanguageCookie, asked == ConsoleLanguage.Zh ? "zh" : "en", new CookieOptions { Path = Prefix, Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, MaxAge = TimeSpan.FromDays(365) });
            return asked;
        }

        if (Parse(http.Request.Cookies[LanguageCookie]) is { } remembered)
        {
            return remembered;
        }

        return http.Request.Headers.AcceptLanguage.ToString().TrimStart().StartsWith("zh", StringComparison.OrdinalIgnoreCase) ? ConsoleLanguage.Zh : ConsoleLanguage.En;

        static ConsoleLanguage? Parse(string? value) => value switch
        {
            "zh" => ConsoleLanguage.Zh,
            "en" => ConsoleLanguage.En,
            _ => null,
        };
    }

    /// <summary>
    /// Only a person with an operator certificate of this node's division. A department's or a
    /// node's certificate never gets here (the management listener refuses it, 401 wrong-listener);
    /// a request without a certificate, or with only the bootstrap token, is refused here.
    /// </summary>
    private static async ValueTask<object?> AdmitSignedInOperatorAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var division = http.RequestServices.GetRequiredService<IOptions<NodeOptions>>().Value.DivisionCode;
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GovShare.Node.OperatorConsole");
        if (http.Connection.ClientCertificate is null || CallerIdentity.FromPrincipal(http.User) is not { Kind: CallerKind.Operator } person)
        {
            LogRefused(logger, http.Request.Path, "no operator certificate");
            return Problem.Result(StatusCodes.Status401Unauthorized, ProblemTypes.CertificateRequired, "Sign in with your operator certificate",
                $"The console is for operators with their own certificate (govshare:operator/{division}/<id>, 'govshare certs operator'), over https on the management listener. The bootstrap token is not a login.");
        }

        if (person.DivisionCode != division)
        {
            LogRefused(logger, http.Request.Path, person.Uri);
            return Problem.Result(StatusCodes.Status403Forbidden, ProblemTypes.Forbidden, "Not an operator of this node", $"{person.Uri} operates division {person.DivisionCode}; this node is {division}.");
        }

        return await next(context);
    }

    /// <summary>
    /// CSRF: the browser sends the client certificate to any page that posts here, so an action must
    /// come from the console itself. Browsers send <c>Origin</c> on every POST (and <c>Sec-Fetch-Site</c>);
    /// it must be this listener's own origin. A request without <c>Origin</c> is refused too: the
    /// console is for browsers, scripts have the operator API.
    /// </summary>
    private static async ValueTask<object?> RefuseCrossSiteAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var origin = http.Request.Headers.Origin.ToString();
        var own = $"{http.Request.Scheme}://{http.Request.Host}";
        var site = http.Request.Headers["Sec-Fetch-Site"].ToString();
        if (!string.Equals(origin, own, StringComparison.OrdinalIgnoreCase) || (site.Length > 0 && site != "same-origin"))
        {
            var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GovShare.Node.OperatorConsole");
            LogCrossSite(logger, OperatorAttribution.Of(http), http.Request.Path, origin.Length == 0 ? "(none)" : origin);
            return Problem.Result(StatusCodes.Status403Forbidden, ProblemTypes.Forbidden, "Cross-site request refused",
                $"Console actions are taken only from the console's own pages ({own}); this request came from {(origin.Length == 0 ? "no named origin" : origin)}.");
        }

        if (!http.Request.HasFormContentType)
        {
            return Problem.Result(StatusCodes.Status415UnsupportedMediaType, ProblemTypes.UnsupportedMediaType, "A form is expected", "Console actions are HTML form posts (application/x-www-form-urlencoded).");
        }

        return await next(context);
    }

    [LoggerMessage(EventId = 2101, EventName = "ConsoleRefused", Level = LogLevel.Warning, Message = "Console refused for {Path}: {Who}")]
    private static partial void LogRefused(ILogger logger, PathString path, string who);

    [LoggerMessage(EventId = 2102, EventName = "ConsoleCrossSiteRefused", Level = LogLevel.Warning, Message = "Console action by {Operator} refused for {Path}: origin {Origin} is not the console's")]
    private static partial void LogCrossSite(ILogger logger, string @operator, PathString path, string origin);

    /// <summary>303 See Other: the browser follows a form post with a GET of the page.</summary>
    private sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
            httpContext.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}
