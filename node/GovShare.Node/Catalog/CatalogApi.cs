using System.Globalization;
using System.Text;
using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GovShare.Node.Catalog;

/// <summary>The body of a successful create or update: the entry and any possible duplicate collection (Art. 13).</summary>
public sealed record CatalogWriteResponse(CatalogEntry Entry, IReadOnlyList<PossibleDuplicate> PossibleDuplicates);

/// <summary>The office's rejection of a share-attribute change: the reason is required.</summary>
public sealed record ReviewRejection(string? Reason);

/// <summary>A change in law or duties as the office records it: what changed, its legal basis, the affected departments (credit codes).</summary>
public sealed record DutyChangeSubmission(string? Description, string? LegalBasis, IReadOnlyList<string>? Departments);

/// <summary>The office's designation of a datum's collecting department.</summary>
public sealed record DesignationSubmission(string? ItemName, string? DataType, string? DivisionCode, string? CreditCode, string? Reason);

/// <summary>A department's catalog as exchanged by export and import.</summary>
public sealed record CatalogExport(string? Department, DateTimeOffset? ExportedAt, IReadOnlyList<CatalogEntry> Entries);

/// <summary>
/// The catalog's HTTP API (JSON, problem+json refusals). A resource code appears in URLs in
/// its URL form <c>&lt;classification&gt;-&lt;sequence&gt;</c> (<see cref="ResourceCode.ToUrl"/>).
/// ETags are the quoted entry version; PUT and DELETE need <c>If-Match</c>.
/// </summary>
public static class CatalogApi
{
    public const long MaxEntryBytes = 1 << 20;
    public const long MaxImportBytes = 16 << 20;
    public const long MaxCsvBytes = 2 << 20;
    public const int MaxImportEntries = 5000;

    /// <summary>Maps the department-facing catalog endpoints under <c>/v1/catalog</c>.</summary>
    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup("/v1/catalog");
        group.MapGet("/", ListSharing);
        group.MapGet("/resources", ListResources);
        group.MapGet("/duplicates", OwnDuplicates);
        group.MapGet("/deadlines", OwnDeadlines);
        group.MapGet("/export", Export);
        group.MapPost("/import", Import);
        group.MapPost("/", Create);
        group.MapGet("/{code}", GetEntry);
        group.MapPut("/{code}", Update);
        group.MapDelete("/{code}", Retire);
        group.MapGet("/{code}/items.csv", GetItemsCsv);
        group.MapPut("/{code}/items.csv", PutItemsCsv);
        return endpoints;
    }

    /// <summary>
    /// Maps the operator's endpoints under <c>catalog/</c> of the given builder — the management
    /// listener's operator group, so <c>/v1/operator/catalog/…</c> behind the operator token:
    /// all possible duplicate collections, deadlines (share reviews, stale entries, Art. 11 catalog
    /// updates), the change stream, the office's decision on share reviews, duty changes and designations.
    /// </summary>
    public static IEndpointRouteBuilder MapCatalogOperatorApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup("/catalog");
        group.MapGet("/duplicates", (CatalogStore store) => Json(store.Duplicates()));
        group.MapGet("/deadlines", (CatalogStore store, DutyChangeRegister duties) =>
        {
            var deadlines = store.Deadlines();
            return Json(deadlines with { CatalogUpdates = duties.Deadlines(deadlines.AsOf) });
        });
        group.MapGet("/changes", (CatalogStore store, long? after, int? limit, string? code) =>
            Json(store.Changes(after ?? 0, limit ?? 500, code is null ? null : ResourceCode.TryFromUrl(code, out var c) ? c : "-")));

        // Art. 17: a reported change of share attributes waits for the office's decision.
        group.MapPost("/{code}/review/approve", (HttpContext context, CatalogStore store, string code) =>
            !ResourceCode.TryFromUrl(code, out var resource) ? BadCode() : Decided(store.DecideShareReview(resource, approve: true, null, OperatorAttribution.Of(context))));
        group.MapPost("/{code}/review/reject", async (HttpContext context, CatalogStore store, string code) =>
        {
            if (!ResourceCode.TryFromUrl(code, out var resource))
            {
                return BadCode();
            }

            var (body, refusal) = await ReadJson<ReviewRejection>(context, OperatorBodyBytes);
            return refusal ?? Decided(store.DecideShareReview(resource, approve: false, body!.Reason, OperatorAttribution.Of(context)));
        });

        // Art. 11: a change in law or duties starts the affected departments' catalog-update deadline.
        group.MapGet("/duty-changes", (DutyChangeRegister duties) => Json(duties.All()));
        group.MapPost("/duty-changes", async (HttpContext context, DutyChangeRegister duties) =>
        {
            var (body, refusal) = await ReadJson<DutyChangeSubmission>(context, OperatorBodyBytes);
            if (refusal is not null)
            {
                return refusal;
            }

            var errors = duties.Record(body!.Description, body.LegalBasis, body.Departments, OperatorAttribution.Of(context), out var recorded);
            return errors.Count > 0 ? Rejected("The duty change is invalid", errors) : Results.Json(recorded, CatalogJson.Options, statusCode: StatusCodes.Status201Created);
        });

        // Art. 13: the one collecting department of a datum.
        group.MapGet("/designations", (CollectorDesignations designations) => Json(designations.All()));
        group.MapPut("/designations", async (HttpContext context, CollectorDesignations designations) =>
        {
            var (body, refusal) = await ReadJson<DesignationSubmission>(context, OperatorBodyBytes);
            if (refusal is not null)
            {
                return refusal;
            }

            var errors = designations.Designate(body!.ItemName, body.DataType, body.DivisionCode, body.CreditCode, body.Reason, OperatorAttribution.Of(context), out var made);
            return errors.Count > 0 ? Rejected("The designation is invalid", errors) : Json(made);
        });
        return endpoints;
    }

    /// <summary>The largest operator body the catalog's operator endpoints read (the management listener caps it too).</summary>
    private const long OperatorBodyBytes = 64 * 1024;

    private static IResult Decided(CatalogWriteResult result) => result.Outcome switch
    {
        CatalogOutcome.Ok => Json(result.Entry),
        CatalogOutcome.Invalid => Invalid(result.Errors ?? []),
        _ => Problem.Result(404, ProblemTypes.NotFound, "No open review", result.Detail),
    };

    private static IResult Rejected(string title, IReadOnlyList<string> errors) =>
        Problem.Result(400, ProblemTypes.ValidationFailed, title, string.Join(" ", errors), new Dictionary<string, object?> { ["errors"] = errors });

    private static IResult ListSharing(HttpContext context, CatalogStore store)
    {
        if (Caller(context) is not { } caller)
        {
            return NoIdentity();
        }

        var (query, errors) = ParseQuery(context.Request.Query, allowDepartment: true);
        return errors.Count > 0 ? Invalid(errors) : Json(store.ListSharing(query! with { ViewerDivision = caller.DivisionCode }));
    }

    // A department outside the entry's province (Art. 21) sees it only when it is shared nationally.
    private static IResult? OutOfScope(CatalogEntry entry, CallerIdentity caller, bool own) =>
        own || CatalogViews.SharedWith(entry, caller.DivisionCode)
            ? null
            : Problem.Result(403, ProblemTypes.NotSharedNationally, "The resource is not shared beyond its province", $"{entry.ResourceCode} is shared within province {DivisionCode.ProvinceOf(entry.Provider.DivisionCode)} only; {caller.Uri} is outside it.");

    private static IResult ListResources(HttpContext context, CatalogStore store)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        var (query, errors) = ParseQuery(context.Request.Query, allowDepartment: false);
        return errors.Count > 0 ? Invalid(errors) : Json(store.ListResources(query! with { Department = caller.CreditCode, IncludeRetired = true }));
    }

    private static IResult OwnDuplicates(HttpContext context, CatalogStore store) =>
        Department(context) is { } caller ? Json(store.Duplicates(caller.CreditCode)) : NoDepartment();

    // The department's own deadlines: its catalog updates due after duty changes (Art. 11) and its entries' open share reviews (Art. 17).
    private static IResult OwnDeadlines(HttpContext context, CatalogStore store, DutyChangeRegister duties)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        var all = store.Deadlines();
        var key = $"{caller.DivisionCode}/{caller.CreditCode}";
        return Json(new CatalogDeadlines(all.AsOf, [.. all.Reviews.Where(r => r.Department == key)], [.. all.Stale.Where(s => s.Department == key)])
        {
            CatalogUpdates = [.. duties.Deadlines(all.AsOf).Where(d => d.Department.SameAs(caller.DivisionCode, caller.CreditCode))],
        });
    }

    private static IResult Export(HttpContext context, CatalogStore store, TimeProvider time)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        var entries = new List<CatalogEntry>();
        for (var page = 1; ; page++)
        {
            var result = store.ListResources(new CatalogQuery(Department: caller.CreditCode, Page: page, PageSize: CatalogQuery.MaxPageSize));
            entries.AddRange(result.Entries);
            if (page * result.PageSize >= result.Total)
            {
                break;
            }
        }

        return Json(new CatalogExport(caller.Uri, time.GetUtcNow(), entries));
    }

    private static async Task<IResult> Import(HttpContext context, CatalogStore store)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        var (import, refusal) = await ReadJson<CatalogExport>(context, MaxImportBytes);
        if (refusal is not null)
        {
            return refusal;
        }

        if (import?.Entries is null)
        {
            return Invalid([new("entries", "required", "the import lists its entries")]);
        }

        if (import.Entries.Count > MaxImportEntries)
        {
            return Invalid([new("entries", "tooMany", $"{import.Entries.Count} entries; at most {MaxImportEntries} per import")]);
        }

        var result = store.Import(import.Entries, caller);
        return result.Outcome == CatalogOutcome.Ok
            ? Json(new { entries = result.Entries, possibleDuplicates = result.Duplicates })
            : Invalid(result.Errors);
    }

    private static async Task<IResult> Create(HttpContext context, CatalogStore store)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        var (entry, refusal) = await ReadJson<CatalogEntry>(context, MaxEntryBytes);
        if (refusal is not null)
        {
            return refusal;
        }

        var result = store.Create(entry!, caller);
        if (!result.Succeeded)
        {
            return Refusal(result);
        }

        SetETag(context, result.Entry!);
        var location = "/v1/catalog/" + ResourceCode.ToUrl(result.Entry!.ResourceCode);
        return new CreatedWithLocation(location,
            Results.Json(new CatalogWriteResponse(result.Entry, result.Duplicates ?? []), CatalogJson.Options, statusCode: StatusCodes.Status201Created));
    }

    private static IResult GetEntry(HttpContext context, CatalogStore store, string code)
    {
        if (Caller(context) is not { } caller)
        {
            return NoIdentity();
        }

        if (!ResourceCode.TryFromUrl(code, out var resource))
        {
            return BadCode();
        }

        var entry = store.Get(resource);
        var own = entry is not null && caller.Kind == CallerKind.Department && entry.Provider.SameAs(caller.DivisionCode, caller.CreditCode);
        if (entry is null || (!own && entry.Status == EntryStatus.Retired))
        {
            return NotFound();
        }

        if (OutOfScope(entry, caller, own) is { } outOfScope)
        {
            return outOfScope;
        }

        SetETag(context, entry);
        return Json(own ? entry : CatalogViews.ForSharing(entry));
    }

    private static async Task<IResult> Update(HttpContext context, CatalogStore store, string code)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        if (!ResourceCode.TryFromUrl(code, out var resource))
        {
            return BadCode();
        }

        var (version, preconditionRefusal) = IfMatch(context);
        if (preconditionRefusal is not null)
        {
            return preconditionRefusal;
        }

        var (entry, refusal) = await ReadJson<CatalogEntry>(context, MaxEntryBytes);
        if (refusal is not null)
        {
            return refusal;
        }

        return Written(context, store.Update(resource, entry!, version, caller));
    }

    private static IResult Retire(HttpContext context, CatalogStore store, string code)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        if (!ResourceCode.TryFromUrl(code, out var resource))
        {
            return BadCode();
        }

        var (version, preconditionRefusal) = IfMatch(context);
        return preconditionRefusal ?? Written(context, store.Retire(resource, version, caller));
    }

    private static IResult GetItemsCsv(HttpContext context, CatalogStore store, string code)
    {
        if (Caller(context) is not { } caller)
        {
            return NoIdentity();
        }

        if (!ResourceCode.TryFromUrl(code, out var resource))
        {
            return BadCode();
        }

        var entry = store.Get(resource);
        var own = entry is not null && caller.Kind == CallerKind.Department && entry.Provider.SameAs(caller.DivisionCode, caller.CreditCode);
        if (entry is null || (!own && entry.Status == EntryStatus.Retired))
        {
            return NotFound();
        }

        if (OutOfScope(entry, caller, own) is { } outOfScope)
        {
            return outOfScope;
        }

        SetETag(context, entry);
        var items = own ? entry.Items : CatalogViews.ForSharing(entry).Items;
        return Results.File(CatalogCsv.Write(items), CatalogCsv.ContentType, ResourceCode.ToUrl(entry.ResourceCode) + "-items.csv");
    }

    private static async Task<IResult> PutItemsCsv(HttpContext context, CatalogStore store, string code)
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        if (!ResourceCode.TryFromUrl(code, out var resource))
        {
            return BadCode();
        }

        var (version, preconditionRefusal) = IfMatch(context);
        if (preconditionRefusal is not null)
        {
            return preconditionRefusal;
        }

        if (!JsonBody.IsMediaType(context.Request, "text/csv"))
        {
            return Problem.Result(415, ProblemTypes.UnsupportedMediaType, "Unsupported media type", "send the item list as text/csv");
        }

        var (body, tooLarge) = await JsonBody.ReadBytesAsync(context, MaxCsvBytes);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed CSV", "the CSV is not valid UTF-8");
        }

        var (items, errors) = CatalogCsv.Parse(text);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var current = store.Get(resource);
        if (current is null)
        {
            return NotFound();
        }

        return Written(context, store.Update(resource, current with { Items = items }, version, caller));
    }

    private static IResult Written(HttpContext context, CatalogWriteResult result)
    {
        if (!result.Succeeded)
        {
            return Refusal(result);
        }

        SetETag(context, result.Entry!);
        return Json(new CatalogWriteResponse(result.Entry!, result.Duplicates ?? []));
    }

    private static IResult Refusal(CatalogWriteResult result) => result.Outcome switch
    {
        CatalogOutcome.Invalid => Invalid(result.Errors ?? []),
        CatalogOutcome.NotFound => NotFound(),
        CatalogOutcome.Forbidden => Problem.Result(403, ProblemTypes.Forbidden, "Not the provider", result.Detail),
        CatalogOutcome.CodeTaken => Problem.Result(409, ProblemTypes.CatalogCodeTaken, "Resource code taken", result.Detail),
        CatalogOutcome.Retired => Problem.Result(409, ProblemTypes.CatalogEntryRetired, "Entry retired", result.Detail),
        CatalogOutcome.PreconditionFailed => Problem.Result(412, ProblemTypes.PreconditionFailed, "Stale version", result.Detail),
        _ => Problem.Result(500, ProblemTypes.Internal, "Unexpected outcome"),
    };

    private static (CatalogQuery? Query, List<CatalogValidationError> Errors) ParseQuery(IQueryCollection q, bool allowDepartment)
    {
        var errors = new List<CatalogValidationError>();
        string? department = q["department"];
        if (department is not null && (!allowDepartment || !CreditCode.IsValid(department)))
        {
            errors.Add(new("department", "creditCode.invalid", allowDepartment ? "department is a unified social credit code" : "the resource catalog is always the caller's own"));
        }

        string? classification = q["classification"];
        if (classification is not null && (classification.Length is 0 or > ResourceCode.MaxClassificationLength || !classification.All(char.IsAsciiDigit)))
        {
            errors.Add(new("classification", "classification.invalid", $"classification is a prefix of 1 to {ResourceCode.MaxClassificationLength} digits"));
        }

        ShareType? shareType = null;
        string? share = q["shareType"];
        if (share is not null)
        {
            if (Enum.TryParse<ShareType>(share, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !share.Any(char.IsAsciiDigit))
            {
                shareType = parsed;
            }
            else
            {
                errors.Add(new("shareType", "unknownValue", "shareType is unconditional, conditional or notShared"));
            }
        }

        string? text = q["q"];
        if (text is { Length: > 200 })
        {
            errors.Add(new("q", "tooLong", "q has at most 200 characters"));
        }

        var page = Int(q, "page", 1, 1, 1_000_000, errors);
        var size = Int(q, "pageSize", 50, 1, CatalogQuery.MaxPageSize, errors);
        return (new CatalogQuery(department, classification, shareType, text, page, size), errors);
    }

    private static int Int(IQueryCollection q, string name, int fallback, int min, int max, List<CatalogValidationError> errors)
    {
        string? value = q[name];
        if (value is null)
        {
            return fallback;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
        {
            return n;
        }

        errors.Add(new(name, "outOfRange", $"{name} is a whole number from {min} to {max}"));
        return fallback;
    }

    private static (long Version, IResult? Refusal) IfMatch(HttpContext context)
    {
        var header = context.Request.Headers.IfMatch.ToString();
        if (string.IsNullOrEmpty(header) || header.Trim() == "*")
        {
            return (0, Problem.Result(428, ProblemTypes.PreconditionRequired, "If-Match required",
                "send If-Match with the ETag of the version you read, so two writers cannot overwrite each other"));
        }

        var trimmed = header.Trim();
        if (trimmed.Length > 2 && trimmed[0] == '"' && trimmed[^1] == '"'
            && long.TryParse(trimmed.AsSpan(1, trimmed.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return (version, null);
        }

        return (0, Problem.Result(412, ProblemTypes.PreconditionFailed, "Stale version", "If-Match does not name a current version of this entry"));
    }

    private static void SetETag(HttpContext context, CatalogEntry entry) =>
        context.Response.Headers.ETag = ETag(entry);

    /// <summary>The ETag of an entry: its version, quoted.</summary>
    public static string ETag(CatalogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return "\"" + entry.Version.ToString(CultureInfo.InvariantCulture) + "\"";
    }

    private static Task<(T? Value, IResult? Refusal)> ReadJson<T>(HttpContext context, long max)
        where T : class => JsonBody.ReadAsync<T>(context, max, CatalogJson.Options);

    private static CallerIdentity? Caller(HttpContext context) => CallerIdentity.FromPrincipal(context.User);

    private static CallerIdentity? Department(HttpContext context) =>
        Caller(context) is { Kind: CallerKind.Department, CreditCode: not null } caller ? caller : null;

    private static IResult Json(object? value) => Results.Json(value, CatalogJson.Options);

    private static IResult Invalid(IReadOnlyList<CatalogValidationError> errors) =>
        Problem.Result(400, ProblemTypes.ValidationFailed, "Invalid catalog input", $"{errors.Count} error(s); see errors",
            new Dictionary<string, object?> { ["errors"] = errors.Select(e => new { path = e.Path, code = e.Code, message = e.Message }).ToArray() });

    private static IResult NotFound() => Problem.Result(404, ProblemTypes.NotFound, "No such resource");

    private static IResult BadCode() => Problem.Result(400, ProblemTypes.ValidationFailed, "Malformed resource code",
        "a resource code in a URL is <classification>-<sequence>: 6 to 12 digits starting 1, 2 or 3, '-', 6 digits",
        new Dictionary<string, object?> { ["errors"] = new[] { new { path = "code", code = "resourceCode.format", message = "malformed resource code" } } });

    private static IResult NoIdentity() => Problem.Result(403, ProblemTypes.IdentityUnrecognised, "No GovShare identity");

    private static IResult NoDepartment() => Problem.Result(403, ProblemTypes.Forbidden, "Department identity required", "this operation is for a department's own catalog");

    private sealed class CreatedWithLocation(string location, IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = location;
            return inner.ExecuteAsync(httpContext);
        }
    }
}

/// <summary>Wires the catalog.</summary>
public static class CatalogServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="CatalogStore"/> (singleton over the node's <see cref="NodeDataFolder"/>,
    /// which the host registers), the LiteDB <see cref="ICatalogChangeSink"/> unless another is
    /// registered first, <see cref="TimeProvider.System"/> unless another is, and the calendar.
    /// </summary>
    public static IServiceCollection AddGovShareCatalog(this IServiceCollection services, IConfiguration? configuration = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddGovShareCalendar(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ICatalogChangeSink>(sp => new StateCatalogChangeSink(sp.GetRequiredService<NodeDataFolder>()));
        services.TryAddSingleton<CatalogStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStateReplayer, CatalogReplayer>());
        services.TryAddSingleton<DutyChangeRegister>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStateReplayer, DutyChangeReplayer>());
        services.TryAddSingleton<CollectorDesignations>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStateReplayer, CollectorDesignationReplayer>());
        return services;
    }
}
