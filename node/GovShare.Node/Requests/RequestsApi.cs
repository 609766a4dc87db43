using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Requests;

/// <summary>
/// The HTTP API of share requests, grants, disputes and the inbox (JSON; refusals as
/// problem+json). Department endpoints sit on the exchange listener; the caller is the
/// department of its client certificate. Bodies are capped at <see cref="MaxBodyBytes"/>.
/// </summary>
public static class RequestsApi
{
    public const long MaxBodyBytes = 64 * 1024;

    /// <summary>Registers the stores, the inbox and the catalog reconciliation (see <see cref="GrantReconciler"/>).</summary>
    public static IServiceCollection AddGovShareRequests(this IServiceCollection services, IConfiguration? configuration = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddGovShareCatalog(configuration);
        var options = services.AddOptions<RequestsOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration.GetSection(RequestsOptions.Section));
        }

        options.Validate(o => o.DisputeWorkingDays is >= 1 and <= 60, $"{RequestsOptions.Section}:{nameof(RequestsOptions.DisputeWorkingDays)} must be 1 to 60")
            .Validate(o => o.ComplaintWorkingDays is >= 1 and <= 60, $"{RequestsOptions.Section}:{nameof(RequestsOptions.ComplaintWorkingDays)} must be 1 to 60")
            .ValidateOnStart();
        services.TryAddSingleton<IRequestChangeSink>(sp => new StateRequestChangeSink(sp.GetRequiredService<NodeDataFolder>()));
        services.TryAddSingleton<RequestLedger>();
        services.TryAddSingleton<GrantStore>();
        services.TryAddSingleton<ShareRequestStore>();
        services.TryAddSingleton<DisputeStore>();
        services.TryAddSingleton<ConsentStore>();
        services.TryAddSingleton<ComplaintStore>();
        services.TryAddSingleton<Inbox>();
        RequestReplayer.AddTo(services);

        DecorateCatalogSink(services);
        return services;
    }

    /// <summary>Maps the department endpoints: <c>/v1/requests</c>, <c>/v1/grants</c>, <c>/v1/disputes</c>, <c>/v1/consents</c>, <c>/v1/complaints</c>, <c>/v1/inbox</c>.</summary>
    public static IEndpointRouteBuilder MapRequestsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var requests = endpoints.MapGroup("/v1/requests");
        requests.MapPost("/", async (HttpContext context, ShareRequestStore store) =>
            await WithBody<ShareApplication>(context, (caller, body) => Created(context, "/v1/requests/", store.Apply(body, caller), r => r.Id)))
            .RoutedByBodyResource();
        requests.MapGet("/", (HttpContext context, ShareRequestStore store, string? role, string? status) =>
            WithCaller(context, caller => Query(role, status, (r, s) => Json(store.List(caller, r, s)), (ShareRequestStatus?)null)));
        requests.MapGet("/{id}", (HttpContext context, ShareRequestStore store, string id) => WithCaller(context, caller => Answer(store.Get(id, caller))));
        requests.MapPost("/{id}/decision", async (HttpContext context, ShareRequestStore store, string id) =>
            await WithBody<DecisionInput>(context, (caller, body) => Answer(store.Decide(id, body, caller))));
        requests.MapPost("/{id}/withdraw", (HttpContext context, ShareRequestStore store, string id) => WithCaller(context, caller => Answer(store.Withdraw(id, caller))));

        var grants = endpoints.MapGroup("/v1/grants");
        grants.MapGet("/", (HttpContext context, ShareRequestStore store, string? role) =>
            WithCaller(context, caller => Query<GrantStatus>(role, null, (r, _) => Json(store.Grants(caller, r)), null)));
        grants.MapGet("/{id}", (HttpContext context, ShareRequestStore store, string id) => WithCaller(context, caller => Answer(store.GetGrant(id, caller))));
        grants.MapPost("/{id}/revoke", async (HttpContext context, ShareRequestStore store, string id) =>
            await WithBody<RevocationInput>(context, (caller, body) => Answer(store.Revoke(id, body, caller))));

        var disputes = endpoints.MapGroup("/v1/disputes");
        disputes.MapPost("/", async (HttpContext context, DisputeStore store) =>
            await WithBody<DisputeInput>(context, (caller, body) => Created(context, "/v1/disputes/", store.Raise(body, caller), d => d.Id)))
            .RoutedByBodyResource();
        disputes.MapGet("/", (HttpContext context, DisputeStore store, string? role, string? status) =>
            WithCaller(context, caller => Query(role, status, (r, s) => Json(store.List(caller, r, s)), (DisputeStatus?)null)));
        disputes.MapGet("/{id}", (HttpContext context, DisputeStore store, string id) => WithCaller(context, caller => Answer(store.Get(id, caller))));
        disputes.MapPost("/{id}/answer", async (HttpContext context, DisputeStore store, string id) =>
            await WithBody<DisputeAnswerInput>(context, (caller, body) => Answer(store.Answer(id, body, caller))));

        var consents = endpoints.MapGroup("/v1/consents");
        consents.MapPost("/", async (HttpContext context, ConsentStore store) =>
            await WithBody<ConsentApplication>(context, (caller, body) => Created(context, "/v1/consents/", store.Apply(body, caller), c => c.Id)))
            .RoutedByBodyResource();
        consents.MapGet("/", (HttpContext context, ConsentStore store, string? role, string? status) =>
            WithCaller(context, caller => Query(role, status, (r, s) => Json(store.List(caller, r, s)), (ConsentStatus?)null)));
        consents.MapGet("/{id}", (HttpContext context, ConsentStore store, string id) => WithCaller(context, caller => Answer(store.Get(id, caller))));
        consents.MapPost("/{id}/decision", async (HttpContext context, ConsentStore store, string id) =>
            await WithBody<ConsentDecisionInput>(context, (caller, body) => Answer(store.Decide(id, body, caller))));
        consents.MapPost("/{id}/withdraw", async (HttpContext context, ConsentStore store, string id) =>
            await WithBody<ConsentWithdrawal>(context, (caller, body) => Answer(store.Withdraw(id, body, caller))));

        var complaints = endpoints.MapGroup("/v1/complaints");
        complaints.MapPost("/", async (HttpContext context, ComplaintStore store) =>
            await WithBody<ComplaintInput>(context, (caller, body) => body.Complainant is not null
                ? Invalid([new("complainant", "notAllowed", "a department files in its own name; complaints of the public are filed by an operator")])
                : Created(context, "/v1/complaints/", store.File(body, caller), c => c.Id)));
        complaints.MapGet("/", (HttpContext context, ComplaintStore store, string? role, string? status) =>
            WithCaller(context, caller => Query(role, status, (r, s) => Json(store.List(caller, r, s)), (ComplaintStatus?)null)));
        complaints.MapGet("/{id}", (HttpContext context, ComplaintStore store, string id) => WithCaller(context, caller => Answer(store.Get(id, caller))));
        complaints.MapPost("/{id}/answer", async (HttpContext context, ComplaintStore store, string id) =>
            await WithBody<ComplaintAnswerInput>(context, (caller, body) => Answer(store.Answer(id, body, caller))));

        endpoints.MapGet("/v1/inbox", (HttpContext context, Inbox inbox) => WithCaller(context, caller => Json(inbox.For(caller, OwnCertificate(context, caller)))));
        return endpoints;
    }

    /// <summary>
    /// Maps the operator's endpoints on the management listener's operator group:
    /// <c>requests/overdue</c>, <c>requests/changes</c>, <c>grants</c> (list, create), <c>disputes</c> (open; <c>?overdue=true</c>),
    /// <c>consents</c>, <c>complaints</c> (list, one, file for the public).
    /// </summary>
    public static IEndpointRouteBuilder MapRequestsOperatorApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/requests/overdue", (ShareRequestStore store) => Json(store.Overdue()));
        endpoints.MapGet("/requests/changes", (IRequestChangeSink changes, long? after, int? limit, string? subject) =>
            Json(changes.Read(after ?? 0, limit ?? 500, subject)));
        endpoints.MapGet("/grants", (ShareRequestStore store, string? resource, string? user) => Json(store.AllGrants(resource, user)));
        endpoints.MapPost("/grants", async (HttpContext context, ShareRequestStore store) =>
        {
            var (body, refusal) = await ReadJson<OperatorGrantInput>(context);
            return refusal ?? Created(context, "/v1/operator/grants/", store.CreateByOperator(body!, OperatorAttribution.Of(context)), g => g.Id);
        });
        endpoints.MapGet("/disputes", (DisputeStore store, bool? overdue) => Json(store.Open(overdue ?? false)));
        endpoints.MapGet("/consents", (ConsentStore store) => Json(store.All()));
        endpoints.MapGet("/complaints", (ComplaintStore store, bool? overdue) => Json(store.All(overdue ?? false)));
        endpoints.MapGet("/complaints/{id}", (ComplaintStore store, string id) =>
            store.ForOperator(id) is { } complaint ? Json(complaint) : Problem.Result(404, ProblemTypes.NotFound, "Not found", "no such complaint"));
        endpoints.MapPost("/complaints", async (HttpContext context, ComplaintStore store) =>
        {
            // A complaint of the public (Art. 29), taken down by an operator: it is filed in the operator's name.
            var (body, refusal) = await ReadJson<ComplaintInput>(context);
            return refusal ?? Created(context, "/v1/operator/complaints/", store.FileForPublic(body!, OperatorAttribution.Of(context)), c => c.Id);
        });
        return endpoints;
    }

    private static void DecorateCatalogSink(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ReconcilingMarker)))
        {
            return;
        }

        // Every catalog write appends its change through this one sink inside its transaction:
        // wrapping it is the one place that sees them all, without the catalog knowing of grants.
        var inner = services.Last(d => d.ServiceType == typeof(ICatalogChangeSink));
        services.Remove(inner);
        services.AddSingleton<ReconcilingMarker>();
        services.AddSingleton<ICatalogChangeSink>(sp => new GrantReconciler(
            Resolve(inner, sp),
            sp.GetRequiredService<GrantStore>(),
            sp.GetRequiredService<RequestLedger>(),
            sp.GetRequiredService<ILogger<GrantReconciler>>()));
    }

    private static ICatalogChangeSink Resolve(ServiceDescriptor descriptor, IServiceProvider services) =>
        (ICatalogChangeSink)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));

    private sealed class ReconcilingMarker;

    private static IResult WithCaller(HttpContext context, Func<CallerIdentity, IResult> then) =>
        Department(context) is { } caller ? then(caller) : NoDepartment();

    private static async Task<IResult> WithBody<T>(HttpContext context, Func<CallerIdentity, T, IResult> then)
        where T : class
    {
        if (Department(context) is not { } caller)
        {
            return NoDepartment();
        }

        var (body, refusal) = await ReadJson<T>(context);
        return refusal ?? then(caller, body!);
    }

    private static IResult Query<TStatus>(string? role, string? status, Func<PartyRole, TStatus?, IResult> then, TStatus? none)
        where TStatus : struct, Enum
    {
        var errors = new List<CatalogValidationError>();
        var partyRole = PartyRole.User;
        if (role is not null && (!Enum.TryParse(role, ignoreCase: true, out partyRole) || !Enum.IsDefined(partyRole) || int.TryParse(role, out _)))
        {
            errors.Add(new("role", "unknownValue", "role is 'user' or 'provider'"));
        }

        var parsed = none;
        if (status is not null)
        {
            if (Enum.TryParse<TStatus>(status, ignoreCase: true, out var value) && Enum.IsDefined(value) && !int.TryParse(status, out _))
            {
                parsed = value;
            }
            else
            {
                errors.Add(new("status", "unknownValue", $"status is one of {string.Join(", ", Enum.GetNames<TStatus>().Select(n => char.ToLowerInvariant(n[0]) + n[1..]))}"));
            }
        }

        return errors.Count > 0 ? Invalid(errors) : then(partyRole, parsed);
    }

    private static IResult Created<T>(HttpContext context, string prefix, RequestResult<T> result, Func<T, string> id)
        where T : class
    {
        if (result.Outcome != RequestOutcome.Created)
        {
            return Answer(result);
        }

        context.Response.Headers.Location = prefix + id(result.Value!);
        return Results.Json(result.Value, CatalogJson.Options, statusCode: StatusCodes.Status201Created);
    }

    private static IResult Answer<T>(RequestResult<T> result)
        where T : class => result.Outcome switch
        {
            RequestOutcome.Ok or RequestOutcome.Created => Json(result.Value),
            RequestOutcome.Invalid => Invalid(result.Errors ?? []),
            RequestOutcome.NotFound => Problem.Result(404, ProblemTypes.NotFound, "Not found", result.Detail),
            RequestOutcome.Forbidden => Problem.Result(403, ProblemTypes.Forbidden, "Not yours", result.Detail),
            RequestOutcome.NotNeeded => Problem.Result(409, ProblemTypes.RequestNotNeeded, "No request needed", result.Detail),
            RequestOutcome.NotShared => Problem.Result(403, ProblemTypes.ResourceNotShared, "Resource not shared", result.Detail),
            RequestOutcome.SecrecyReviewMissing => Problem.Result(403, ProblemTypes.SecrecyReviewMissing, "The resource has no secrecy review on record", result.Detail),
            RequestOutcome.NotSharedNationally => Problem.Result(403, ProblemTypes.NotSharedNationally, "The resource is not shared beyond its province", result.Detail),
            RequestOutcome.OwnResource => Problem.Result(409, ProblemTypes.OwnResource, "Own resource", result.Detail),
            _ => Problem.Result(409, ProblemTypes.Conflict, "Conflict", result.Detail),
        };

    private static Task<(T? Value, IResult? Refusal)> ReadJson<T>(HttpContext context)
        where T : class => JsonBody.ReadAsync<T>(context, MaxBodyBytes, CatalogJson.Options);

    private static CallerIdentity? Department(HttpContext context) =>
        CallerIdentity.FromPrincipal(context.User) is { Kind: CallerKind.Department, CreditCode: not null } caller ? caller : null;

    /// <summary>The client certificate of the connection when it is the caller's own (not that of a node forwarding for it).</summary>
    private static System.Security.Cryptography.X509Certificates.X509Certificate2? OwnCertificate(HttpContext context, CallerIdentity caller) =>
        context.Connection.ClientCertificate is { } presented && TrustMaterial.UriOf(presented) == caller.Uri ? presented : null;

    private static IResult Json(object? value) => Results.Json(value, CatalogJson.Options);

    private static IResult Invalid(IReadOnlyList<CatalogValidationError> errors) =>
        Problem.Result(400, ProblemTypes.ValidationFailed, "Invalid input", $"{errors.Count} error(s); see errors",
            new Dictionary<string, object?> { ["errors"] = errors.Select(e => new { path = e.Path, code = e.Code, message = e.Message }).ToArray() });

    private static IResult NoDepartment() =>
        Problem.Result(403, ProblemTypes.Forbidden, "Department identity required", "requests, grants, disputes and the inbox belong to a department");
}
