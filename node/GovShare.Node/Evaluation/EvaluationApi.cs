using System.Globalization;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Evaluation;

/// <summary>A status change as the operator submits it.</summary>
public sealed record ViolationStatusInput(ViolationStatus Status, string? Note);

/// <summary>
/// The evaluation's HTTP surface: the operator's scorecards, violation scan and list, status
/// changes and annual report (management listener), and a department's own scorecard
/// (exchange listener). Every refusal is problem+json; query errors are collected and all reported.
/// </summary>
public static class EvaluationApi
{
    /// <summary>The largest status-change body read.</summary>
    public const int MaxBodyBytes = 4096;

    /// <summary>The longest note on a status change.</summary>
    public const int MaxNoteLength = 1000;

    /// <summary>The first year a report is made for (the rules date from 2017).</summary>
    public const int FirstYear = 2017;

    public static IServiceCollection AddGovShareEvaluation(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<EvaluationOptions>().Bind(configuration.GetSection(EvaluationOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<EvaluationOptions>, EvaluationOptionsValidator>();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<EvaluationOptions>>().Value);
        // The logs as the evaluation reads them, kept incrementally per chain (saved at stop when the container is disposed).
        services.AddSingleton(sp => new EvaluationIndex(sp.GetRequiredService<GovShare.Node.Logs.ReplicaChains>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<EvaluationIndex>>()));
        // Brought up to date at start and every few seconds, off the request path (Logs/AggregateWarmup).
        services.AddSingleton<GovShare.Node.Logs.ILogAggregates>(sp => sp.GetRequiredService<EvaluationIndex>());
        services.AddSingleton<EvaluationSources>();
        services.AddSingleton<ScorecardCalculator>();
        services.AddSingleton<ViolationDetector>();
        services.AddSingleton<ViolationStore>();
        services.AddSingleton<IStateReplayer, ViolationReplayer>();
        services.AddSingleton<IInboxNoticeSource, ViolationNotices>();
        services.TryAddSingleton(new EscalationTarget(() => null));
        services.AddHostedService<ViolationSchedule>();
        services.AddSingleton<AnnualReportBuilder>();
        services.AddSingleton<EvaluationService>();
        services.AddGovShareReports();
        return services;
    }

    /// <summary>
    /// Maps the operator endpoints on <paramref name="operators"/> (the management listener's
    /// token-guarded <c>/v1/operator</c> group) and the department's scorecard on
    /// <paramref name="endpoints"/> for registered callers, which puts it on the exchange listener.
    /// </summary>
    public static IEndpointRouteBuilder MapEvaluationApi(this IEndpointRouteBuilder operators, IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var evaluation = operators.MapGroup("/evaluation");
        evaluation.MapGet("/scorecards", (HttpRequest request, EvaluationService service, TimeProvider time, EvaluationOptions options) =>
        {
            var department = request.Query["department"].ToString();
            if (!Period(request, time, options, out var period, out var refusal))
            {
                return refusal!;
            }

            if (department.Length > 0 && !service.Knows(department))
            {
                return Problem.Result(404, ProblemTypes.NotFound, "No such department", $"The node knows no department {department}.");
            }

            return Json(service.Scorecards(period!, department.Length > 0 ? department : null));
        });
        evaluation.MapReportOperatorApi();
        endpoints.MapReportNodeApi();
        endpoints.MapPublicationDepartmentApi();
        evaluation.MapPost("/violations/scan", (HttpContext context, EvaluationService service) => Json(service.Scan(OperatorAttribution.Of(context))));
        evaluation.MapGet("/violations", (HttpRequest request, EvaluationService service) =>
        {
            var errors = new List<CatalogValidationError>();
            var status = Enum<ViolationStatus>(request.Query["status"], "status", errors);
            var kind = Enum<ViolationKind>(request.Query["kind"], "kind", errors);
            int? year = null;
            if (request.Query["year"].ToString() is { Length: > 0 } y)
            {
                if (int.TryParse(y, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed is >= FirstYear and <= 9999)
                {
                    year = parsed;
                }
                else
                {
                    errors.Add(new("year", "year.format", $"year is a year from {FirstYear}"));
                }
            }

            var department = request.Query["department"].ToString();
            return errors.Count > 0
                ? Invalid(errors)
                : Json(service.Violations.List(new ViolationQuery(status, kind, department.Length > 0 ? department : null, year)));
        });
        evaluation.MapGet("/violations/{id}", (string id, EvaluationService service) =>
            service.Violations.Get(id) is { } violation ? Json(violation) : UnknownViolation(id));
        evaluation.MapPost("/violations/{id}/status", async (HttpContext context, string id, EvaluationService service) =>
        {
            var (input, refusal) = await ReadStatusAsync(context);
            if (refusal is not null)
            {
                return refusal;
            }

            return service.Violations.ChangeStatus(id, input!.Status, OperatorAttribution.Of(context), input.Note, out var updated) switch
            {
                ViolationChangeOutcome.Ok => Json(updated),
                ViolationChangeOutcome.NotFound => UnknownViolation(id),
                _ => Problem.Result(409, ProblemTypes.ViolationTransitionRefused, "The violation does not take this status",
                    $"Violation {id} is {Name(updated!.Status)}; {Name(updated.Status)} → {Name(input.Status)} is not a transition (notified → rectified | escalated; escalated → rectified).",
                    new Dictionary<string, object?> { ["violationStatus"] = Name(updated.Status) }),
            };
        });
        evaluation.MapGet("/report/{file}", (string file, HttpRequest request, EvaluationService service, TimeProvider time) =>
        {
            var errors = new List<CatalogValidationError>();
            var dot = file.LastIndexOf('.');
            var (yearText, format) = dot < 0 ? (file, "json") : (file[..dot], file[(dot + 1)..]);
            var today = Calendar.WorkingDayCalendar.ToChinaDate(time.GetUtcNow());
            if (!int.TryParse(yearText, NumberStyles.None, CultureInfo.InvariantCulture, out var year) || yearText.Length != 4)
            {
                errors.Add(new("year", "year.format", "the report is /report/<yyyy>.json or /report/<yyyy>.html"));
            }
            else if (year < FirstYear || year > today.Year)
            {
                errors.Add(new("year", "year.range", $"reports cover {FirstYear} to {today.Year} (the current year is provisional)"));
            }

            if (format is not ("json" or "html"))
            {
                errors.Add(new("format", "format.unknown", "the report is .json or .html"));
            }

            var department = request.Query["department"].ToString();
            if (errors.Count > 0)
            {
                return Invalid(errors);
            }

            if (department.Length > 0 && !service.Knows(department))
            {
                return Problem.Result(404, ProblemTypes.NotFound, "No such department", $"The node knows no department {department}.");
            }

            var report = service.Report(year, department.Length > 0 ? department : null);
            return format == "json"
                ? Json(report)
                : Results.Text(AnnualReportHtml.Render(report), "text/html; charset=utf-8");
        });

        endpoints.MapGet("/v1/evaluation/scorecard", (HttpContext context, EvaluationService service, TimeProvider time, EvaluationOptions options) =>
        {
            if (CallerIdentity.FromPrincipal(context.User) is not { Kind: CallerKind.Department, CreditCode: { } credit })
            {
                return Problem.Result(403, ProblemTypes.Forbidden, "Departments only", "A scorecard is a department's; call with a department certificate.");
            }

            if (context.Request.Query["department"].ToString() is { Length: > 0 } other && other != credit)
            {
                return Problem.Result(403, ProblemTypes.Forbidden, "Your own scorecard only", "A department sees its own scorecard; the office sees every department's.");
            }

            if (!Period(context.Request, time, options, out var period, out var refusal))
            {
                return refusal!;
            }

            var set = service.Scorecards(period!, credit);
            return set.Departments.Count == 1
                ? Json(set.Departments[0])
                : Problem.Result(404, ProblemTypes.NotFound, "No scorecard", "The node holds nothing about your department yet.");
        });
        return operators;
    }

    /// <summary>
    /// <c>from</c> and <c>to</c> as <c>yyyy-MM-dd</c> (China dates, both included); defaults: 1 January
    /// of this year, and today. Every fault is reported.
    /// </summary>
    internal static bool Period(HttpRequest request, TimeProvider time, EvaluationOptions options, out EvaluationPeriod? period, out IResult? refusal)
    {
        var today = Calendar.WorkingDayCalendar.ToChinaDate(time.GetUtcNow());
        var errors = new List<CatalogValidationError>();
        var from = Date(request.Query["from"], "from", new DateOnly(today.Year, 1, 1), errors);
        var to = Date(request.Query["to"], "to", today, errors);
        if (errors.Count == 0 && from > to)
        {
            errors.Add(new("from", "period.reversed", $"from ({from:yyyy-MM-dd}) is after to ({to:yyyy-MM-dd})"));
        }
        else if (errors.Count == 0 && to.DayNumber - from.DayNumber + 1 > options.MaxPeriodDays)
        {
            errors.Add(new("to", "period.tooLong", $"a period covers at most {options.MaxPeriodDays} days"));
        }

        period = errors.Count == 0 ? new EvaluationPeriod(from, to) : null;
        refusal = errors.Count == 0 ? null : Invalid(errors);
        return period is not null;
    }

    private static DateOnly Date(string? text, string name, DateOnly fallback, List<CatalogValidationError> errors)
    {
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return date;
        }

        errors.Add(new(name, "date.format", $"{name} is a date as yyyy-MM-dd"));
        return fallback;
    }

    private static T? Enum<T>(string? text, string name, List<CatalogValidationError> errors)
        where T : struct, Enum
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (System.Enum.TryParse<T>(text, ignoreCase: true, out var value) && System.Enum.IsDefined(value) && !int.TryParse(text, out _))
        {
            return value;
        }

        errors.Add(new(name, "unknownValue", $"{name} is one of {string.Join(", ", System.Enum.GetNames<T>().Select(n => char.ToLowerInvariant(n[0]) + n[1..]))}"));
        return null;
    }

    private static async Task<(ViolationStatusInput? Input, IResult? Refusal)> ReadStatusAsync(HttpContext context)
    {
        if (!JsonBody.IsMediaType(context.Request, "application/json"))
        {
            return (null, JsonBody.UnsupportedMediaType());
        }

        var (body, tooLarge) = await JsonBody.ReadBytesAsync(context, MaxBodyBytes);
        if (tooLarge is not null)
        {
            return (null, tooLarge);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            // The position only: the message may quote the payload.
            return (null, Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed JSON", $"the body is not JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})"));
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed JSON", "the body is a JSON object: {\"status\": \"rectified\", \"note\": \"…\"}"));
            }

            var errors = new List<CatalogValidationError>();
            ViolationStatus? status = null;
            if (!root.TryGetProperty("status", out var s) || s.ValueKind != JsonValueKind.String)
            {
                errors.Add(new("status", "required", "status is 'rectified' or 'escalated'"));
            }
            else
            {
                status = Enum<ViolationStatus>(s.GetString(), "status", errors);
                if (status == ViolationStatus.Notified)
                {
                    errors.Add(new("status", "status.notSettable", "status is 'rectified' or 'escalated'; 'notified' is set by a scan"));
                }
            }

            string? note = null;
            if (root.TryGetProperty("note", out var n) && n.ValueKind != JsonValueKind.Null)
            {
                if (n.ValueKind != JsonValueKind.String)
                {
                    errors.Add(new("note", "type", "note is a string"));
                }
                else if ((note = n.GetString()!).Length > MaxNoteLength || note.Any(c => char.IsControl(c) && c is not ('\n' or '\t')))
                {
                    errors.Add(new("note", "note.format", $"note is at most {MaxNoteLength} printable characters"));
                }
            }

            foreach (var property in root.EnumerateObject().Where(p => p.Name is not ("status" or "note")))
            {
                errors.Add(new(property.Name, "unknownMember", $"'{property.Name}' is not a member; send status and note"));
            }

            return errors.Count > 0 ? (null, Invalid(errors)) : (new ViolationStatusInput(status!.Value, note), null);
        }
    }

    private static IResult Json<T>(T value) => Results.Json(value, CatalogJson.Options);

    private static IResult Invalid(List<CatalogValidationError> errors) =>
        Problem.Result(400, ProblemTypes.ValidationFailed, "Invalid input", string.Join(" ", errors.Select(e => $"{e.Path}: {e.Message}.")), new Dictionary<string, object?> { ["errors"] = errors });

    private static IResult UnknownViolation(string id) => Problem.Result(404, ProblemTypes.NotFound, "No such violation", $"No violation {id} is recorded.");

    private static string Name(ViolationStatus status) => status.ToString().ToLowerInvariant();
}

/// <summary>Reports every error of the <c>Evaluation</c> section at start.</summary>
internal sealed class EvaluationOptionsValidator : IValidateOptions<EvaluationOptions>
{
    public ValidateOptionsResult Validate(string? name, EvaluationOptions options) =>
        options.Validate() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
}
