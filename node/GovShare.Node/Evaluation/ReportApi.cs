using System.Globalization;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Evaluation;

/// <summary>
/// The annual report up the tree (Art. 40) over HTTP: the node-to-node address where a linked child submits its
/// signed report (exchange listener, the child's node certificate), and the operator's view of the reports received,
/// the province's report over them, who is missing, and this node's own submission (management listener).
/// </summary>
public static class ReportApi
{
    /// <summary>The office's publication as it submits it: the improvement advice (Art. 38).</summary>
    public sealed record PublishInput(string? Advice);

    /// <summary>Where a linked child submits (PUT) and asks about (GET) its report of <paramref name="year"/>.</summary>
    public static string NodePath(int year) => $"/v1/hierarchy/reports/{year.ToString(CultureInfo.InvariantCulture)}";

    public static IServiceCollection AddGovShareReports(this IServiceCollection services)
    {
        services.AddSingleton<ChildReports>();
        services.AddSingleton<IStateReplayer, ChildReportReplayer>();
        services.AddSingleton<LateReports>();
        services.AddSingleton<ReportTree>();
        services.AddHostedService<ReportSchedule>();
        services.AddSingleton<Publications>();
        services.AddSingleton<IStateReplayer, PublicationReplayer>();
        return services;
    }

    /// <summary>Maps the operator's report endpoints on the evaluation group (<c>/v1/operator/evaluation/reports/…</c>).</summary>
    public static IEndpointRouteBuilder MapReportOperatorApi(this IEndpointRouteBuilder evaluation)
    {
        var reports = evaluation.MapGroup("/reports/{year}");
        reports.MapGet("", (string year, ReportTree tree, TimeProvider time) =>
            Year(year, time, out var y) is { } refusal ? refusal : Json(tree.Build(y)));
        reports.MapGet("/received", (string year, ChildReports received, TimeProvider time) =>
            Year(year, time, out var y) is { } refusal ? refusal : Json(received.Of(y).Select(ReportAtParent.Of)));
        reports.MapGet("/received/{child}", (string year, string child, ChildReports received, TimeProvider time) =>
            Year(year, time, out var y) is { } refusal ? refusal
            : received.Find(child, y) is { } report ? Json(report)
            : Problem.Result(404, ProblemTypes.NotFound, "No such report", $"Node {child} has submitted no report of {y} here."));
        reports.MapGet("/submission", async (string year, ReportTree tree, TimeProvider time, CancellationToken cancellation) =>
            Year(year, time, out var y) is { } refusal ? refusal : Json(await tree.StatusAsync(y, cancellation)));
        reports.MapPost("/submit", async (string year, ReportTree tree, TimeProvider time, CancellationToken cancellation) =>
        {
            if (Year(year, time, out var y) is { } refusal)
            {
                return refusal;
            }

            var (accepted, status, problem) = await tree.SubmitAsync(y, cancellation);
            return accepted is not null ? Json(accepted)
                : status == 0 ? Problem.Result(409, ProblemTypes.Conflict, "No parent to report to", problem)
                : Problem.Result(502, ProblemTypes.UpstreamUnavailable, "The parent refused the report", $"The parent answered {status}: {problem}");
        });

        // Art. 38: the office publishes the year's evaluation with its improvement advice; final once published.
        reports.MapPost("/publish", async (HttpContext context, string year, ReportTree tree, Publications publications, TimeProvider time) =>
        {
            if (Year(year, time, out var y) is { } refusal)
            {
                return refusal;
            }

            var (input, bad) = await JsonBody.ReadAsync<PublishInput>(context, 256 * 1024, CatalogJson.Options);
            if (bad is not null)
            {
                return bad;
            }

            var errors = new List<CatalogValidationError>();
            if (y >= WorkingDayCalendar.ToChinaDate(time.GetUtcNow()).Year)
            {
                errors.Add(new("year", "year.notComplete", $"only a finished year's evaluation is published; {y} is not over"));
            }

            if (string.IsNullOrWhiteSpace(input!.Advice) || input.Advice.Length > Publications.MaxAdviceLength || input.Advice.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            {
                errors.Add(new("advice", "advice.format", $"the improvement advice is required: 1 to {Publications.MaxAdviceLength} printable characters"));
            }

            if (errors.Count > 0)
            {
                return Problem.Result(400, ProblemTypes.ValidationFailed, "Invalid input", string.Join(" ", errors.Select(e => $"{e.Path}: {e.Message}.")), new Dictionary<string, object?> { ["errors"] = errors });
            }

            var (outcome, publication) = publications.Publish(tree.Build(y), input.Advice!, OperatorAttribution.Of(context));
            return outcome == PublishOutcome.Published
                ? Results.Json(publication, CatalogJson.Options, statusCode: StatusCodes.Status201Created)
                : Problem.Result(409, ProblemTypes.Conflict, "Published already", $"The evaluation of {y} was published by {publication.PublishedBy} at {publication.PublishedAt:O}; a publication is final.");
        });
        reports.MapGet("/published", (string year, Publications publications, TimeProvider time) =>
            Year(year, time, out var y) is { } refusal ? refusal
            : publications.Of(y) is { } publication ? Json(publication)
            : NotPublished(y));
        return evaluation;
    }

    /// <summary>
    /// Maps what a department reads of the evaluation through its certificate (Art. 38): its notices, and the published
    /// report with its own scorecard as published. Its current scorecard is <c>GET /v1/evaluation/scorecard</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapPublicationDepartmentApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v1/evaluation/notices", (HttpContext context, EvaluationService service, TimeProvider time) =>
        {
            if (CallerIdentity.FromPrincipal(context.User) is not { Kind: CallerKind.Department, CreditCode: { } credit } caller)
            {
                return DepartmentsOnly();
            }

            int? year = null;
            if (context.Request.Query["year"].ToString() is { Length: > 0 } text)
            {
                if (Year(text, time, out var y) is { } refusal)
                {
                    return refusal;
                }

                year = y;
            }

            return Json(service.Violations.List(new ViolationQuery(Department: credit, Year: year)).Where(v => v.Department.DivisionCode == caller.DivisionCode));
        });
        endpoints.MapGet("/v1/evaluation/published/{year}", (HttpContext context, string year, Publications publications, TimeProvider time) =>
        {
            if (CallerIdentity.FromPrincipal(context.User) is not { Kind: CallerKind.Department, CreditCode: { } credit })
            {
                return DepartmentsOnly();
            }

            return Year(year, time, out var y) is { } refusal ? refusal
                : publications.Of(y) is { } publication ? Json(PublishedView.For(publication, credit))
                : NotPublished(y);
        });
        return endpoints;
    }

    private static IResult NotPublished(int year) =>
        Problem.Result(404, ProblemTypes.NotFound, "Not published", $"The office has not published the evaluation of {year}.");

    private static IResult DepartmentsOnly() =>
        Problem.Result(403, ProblemTypes.Forbidden, "Departments only", "The evaluation a department reads is its own; call with a department certificate.");

    /// <summary>Maps where a linked child submits its signed report (exchange listener, answered here, never routed on).</summary>
    public static IEndpointRouteBuilder MapReportNodeApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPut("/v1/hierarchy/reports/{year}", ReceiveAsync)
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(SignedSubmission.MaxBytes))
            .AnsweredLocally();
        endpoints.MapGet("/v1/hierarchy/reports/{year}", (HttpContext context, string year, NodeLinkRegistry links, ChildReports received, TimeProvider time) =>
        {
            if (ParentChannel.LinkedChild(context, links) is not { } child)
            {
                return NotLinkedChild();
            }

            return Year(year, time, out var y) is { } refusal ? refusal
                : received.Find(child.DivisionCode, y) is { } report ? Json(ReportAtParent.Of(report))
                : Problem.Result(404, ProblemTypes.NotFound, "No report", $"No report of {y} from node {child.DivisionCode} is held here.");
        }).AnsweredLocally();
        return endpoints;
    }

    /// <summary>
    /// Takes a linked child's report of <paramref name="year"/>: the caller is the child node itself; the submission is
    /// signed by that child's node key (its certificate from this node's trust, the key the link pins) over exactly the
    /// report that came, which is of that year and that node. Each fault is its own problem type.
    /// </summary>
    private static async Task<IResult> ReceiveAsync(HttpContext context, string year, NodeLinkRegistry links, ChildReports received, TrustMaterial trust, CrlStore crls, TimeProvider time)
    {
        if (ParentChannel.LinkedChild(context, links) is not { } child)
        {
            return NotLinkedChild();
        }

        if (Year(year, time, out var y) is { } invalid)
        {
            return invalid;
        }

        var (submission, refusal) = await JsonBody.ReadAsync<SignedSubmission>(context, SignedSubmission.MaxBytes, CatalogJson.Options);
        if (refusal is not null)
        {
            return refusal;
        }

        var check = submission!.Verify(TreeReports.Kind, child, y.ToString(CultureInfo.InvariantCulture), trust, crls);
        if (check.Refusal("report") is { } submissionRefused)
        {
            return submissionRefused;
        }

        TreeReport? report;
        try
        {
            report = JsonSerializer.Deserialize<TreeReport>(check.Payload, CatalogJson.Options);
        }
        catch (JsonException ex)
        {
            return Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed report", $"The signed payload is not an annual report (line {ex.LineNumber + 1}).");
        }

        if (report?.Own is null || report.Total is null || report.Months is null || report.Children is null)
        {
            return Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed report", "The signed payload is not an annual report.");
        }

        if (report.Year != y || report.Node != child.DivisionCode)
        {
            return Problem.Result(400, ProblemTypes.ReportMismatch, "The report is not the one this address takes",
                $"The signed report is node {report.Node}'s of {report.Year}; this is node {child.DivisionCode}'s report of {y}.");
        }

        var (receipt, stored) = received.Receive(child.DivisionCode, y, submission, check.SignerKeySha256!, CallerIdentity.FromPrincipal(context.User)!.Uri);
        return Results.Json(ReportAtParent.Of(stored), CatalogJson.Options, statusCode: receipt == ReportReceipt.New ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static IResult NotLinkedChild() =>
        Problem.Result(403, ProblemTypes.Forbidden, "Only a linked child node reports here", "The annual report goes up from the child node itself (its node certificate), never from a department.");

    /// <summary>A report year: four digits, from 2017 to this year (the current one provisional).</summary>
    private static IResult? Year(string text, TimeProvider time, out int year)
    {
        var today = WorkingDayCalendar.ToChinaDate(time.GetUtcNow());
        if (text.Length == 4 && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out year) && year >= EvaluationApi.FirstYear && year <= today.Year)
        {
            return null;
        }

        year = 0;
        var error = new CatalogValidationError("year", "year.range", $"the year is yyyy, from {EvaluationApi.FirstYear} to {today.Year}");
        return Problem.Result(400, ProblemTypes.ValidationFailed, "Invalid input", $"year: {error.Message}.", new Dictionary<string, object?> { ["errors"] = new[] { error } });
    }

    private static IResult Json<T>(T value) => Results.Json(value, CatalogJson.Options);
}
