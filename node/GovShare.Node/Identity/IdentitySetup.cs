using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Identity;

/// <summary>Wires mTLS identity: certificate authentication, CRL checks, the department registry.</summary>
public static partial class IdentitySetup
{
    /// <summary>The policy of every exchange endpoint: an authenticated, registered caller.</summary>
    public const string RegisteredCallerPolicy = "govshare:registered-caller";

    public static IServiceCollection AddGovShareIdentity(this IServiceCollection services, TrustMaterial trust, NodeOptions options)
    {
        services.AddSingleton(trust);
        services.AddSingleton(sp => new CrlStore(
            options.CrlPath,
            options.CrlGrace,
            trust.Authorities,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<CrlStore>>()));
        services.AddSingleton(sp => new DepartmentRegistry(
            sp.GetRequiredService<NodeDataFolder>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IStateJournal>(),
            options.DivisionCode));
        services.AddSingleton<TrustExpiryWatch>();
        services.AddSingleton<DepartmentCertificates>();
        services.AddHostedService<TrustExpiryWatch.Monitor>();
        services.AddHealthChecks().AddCheck<TrustExpiryWatch.HealthCheck>("trust-expiry", tags: [HealthTags.Detail]);
        services.AddSingleton<IStateReplayer, DepartmentReplayer>();
        services.AddSingleton<IAuthorizationHandler, RegisteredCallerHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();

        services.AddAuthentication(CertificateAuthenticationDefaults.AuthenticationScheme)
            .AddCertificate(certificate =>
            {
                certificate.AllowedCertificateTypes = CertificateTypes.Chained;
                // Only the configured anchors: Kestrel and X509Chain would otherwise consult the system store.
                certificate.ChainTrustValidationMode = X509ChainTrustMode.CustomRootTrust;
                certificate.CustomTrustStore = [.. trust.Roots];
                certificate.AdditionalChainCertificates = [.. trust.Intermediates];
                // Revocation is ours (CrlStore): .NET's offline mode accepts stale CRLs.
                certificate.RevocationMode = X509RevocationMode.NoCheck;
                certificate.ValidateCertificateUse = true;
                certificate.ValidateValidityPeriod = true;
                certificate.Events = new CertificateAuthenticationEvents
                {
                    OnCertificateValidated = OnCertificateValidated,
                    OnChallenge = OnChallenge,
                };
            });

        // Chain validation is the expensive part of authentication; its result is cached per
        // certificate for two minutes (sliding), and revocation is re-checked on every request
        // regardless. In front of that shared cache, the result is also remembered on the
        // connection's certificate object, so a kept-alive connection's requests skip the shared
        // cache's SHA-256 key (ConnectionValidationCache says what that may and may not outlive).
        var cacheFor = TimeSpan.FromMinutes(2);
        services.AddSingleton<ICertificateValidationCache>(sp => new ConnectionValidationCache(
            new CertificateValidationCache(Microsoft.Extensions.Options.Options.Create(new CertificateValidationCacheOptions
            {
                CacheSize = 4096,
                CacheEntryExpiration = cacheFor,
            })),
            sp.GetRequiredService<TimeProvider>(),
            cacheFor));

        services.AddAuthorizationBuilder()
            .AddPolicy(RegisteredCallerPolicy, policy => policy
                .RequireAuthenticatedUser()
                .AddRequirements(new RegisteredCallerRequirement()));
        return services;
    }

    private static Task OnCertificateValidated(CertificateValidatedContext context)
    {
        var certificate = context.ClientCertificate;
        var caller = CallerIdentity.TryParse(TrustMaterial.UriOf(certificate));
        if (caller is null)
        {
            context.Fail(CertificateRefusedException.Unrecognised("The certificate has no SAN URI of the form govshare:dept/<division>/<credit-code>, govshare:node/<division> or govshare:operator/<division>/<id>."));
            return Task.CompletedTask;
        }

        var services = context.HttpContext.RequestServices;
        var crls = services.GetRequiredService<CrlStore>();
        if (Refusal(crls.CheckChain(certificate)) is { } refusal)
        {
            context.Fail(refusal);
            return Task.CompletedTask;
        }

        // The chain is valid; now whether its CA may speak for this identity at all.
        var issuer = crls.IssuerOf(certificate);
        var issuersIssuer = issuer is null ? null : crls.IssuerOf(issuer);
        if (services.GetRequiredService<TrustMaterial>().Scope.Refusal(caller, issuer, issuersIssuer) is { } outOfScope)
        {
            LogOutOfScope(services.GetRequiredService<ILoggerFactory>().CreateLogger("GovShare.Node.Identity"), caller.Uri, issuer?.Subject ?? "(unknown)", outOfScope.Message);
            context.Fail(outOfScope);
            return Task.CompletedTask;
        }

        context.Principal = caller.ToPrincipal(context.Scheme.Name);
        context.Success();
        return Task.CompletedTask;
    }

    /// <summary>The refusal a revocation verdict means, or null when the chain is good.</summary>
    internal static CertificateRefusedException? Refusal(RevocationVerdict verdict) => verdict.Status switch
    {
        RevocationStatus.Revoked => CertificateRefusedException.Revoked($"The certificate is revoked: {verdict.Reason}."),
        RevocationStatus.Unknown => CertificateRefusedException.RevocationUnknown($"Revocation cannot be checked: {verdict.Reason}. The node fails closed until a valid CRL is installed."),
        _ => null,
    };

    /// <summary>
    /// Validating a chain on every request costs milliseconds, so validated certificates are
    /// cached (the certificate handler's validation cache); revocation, which must act at once, is
    /// checked again on every request here, against the CRLs held in memory.
    /// </summary>
    public static Task RecheckRevocationAsync(HttpContext context, RequestDelegate next)
    {
        if (context.User.Identity?.IsAuthenticated != true)
        {
            return next(context);
        }

        // The handshake asked for the certificate, so an authenticated connection already holds it
        // and the check runs without an await of its own (one state machine less per request);
        // the asynchronous read stays for a certificate the connection does not hold yet.
        return context.Connection.ClientCertificate is { } certificate
            ? Recheck(context, certificate, next)
            : ReadAndRecheckAsync(context, next);
    }

    private static async Task ReadAndRecheckAsync(HttpContext context, RequestDelegate next)
    {
        if (await context.Connection.GetClientCertificateAsync() is { } certificate)
        {
            await Recheck(context, certificate, next);
            return;
        }

        await next(context);
    }

    private static Task Recheck(HttpContext context, X509Certificate2 certificate, RequestDelegate next)
    {
        // Operators manage the node, departments and nodes exchange: a certificate opens one
        // listener only, so a department's key cannot register departments, nor an operator's
        // pull data. Checked here, per request, because the validation cache knows no listener.
        var caller = CallerIdentity.FromPrincipal(context.User);
        if (WrongListener(context, caller) is { } wrong)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GovShare.Node.Identity");
            LogRefused(logger, certificate.Subject, certificate.SerialNumber, wrong.ProblemType, wrong.Message);
            return Problem.WriteAsync(context, StatusCodes.Status401Unauthorized, wrong.ProblemType, wrong.Title, wrong.Message);
        }

        var crls = context.RequestServices.GetRequiredService<CrlStore>();
        if (Refusal(crls.CheckChain(certificate)) is { } refusal)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GovShare.Node.Identity");
            LogRefused(logger, certificate.Subject, certificate.SerialNumber, refusal.ProblemType, refusal.Message);
            return Problem.WriteAsync(context, StatusCodes.Status401Unauthorized, refusal.ProblemType, refusal.Title, refusal.Message);
        }

        // Here, per request and after the revocation check, rather than in OnCertificateValidated:
        // that runs once per certificate per cache period, so a department switching back and forth
        // would be remembered with the wrong one. Before OnBehalfOfMiddleware: the user is still the
        // certificate's own identity, never a vouched one.
        if (caller is { Kind: CallerKind.Department } department)
        {
            context.RequestServices.GetRequiredService<DepartmentCertificates>().Saw(department, certificate);
        }

        return next(context);
    }

    private static CertificateRefusedException? WrongListener(HttpContext context, CallerIdentity? caller)
    {
        if (caller is null)
        {
            return null;
        }

        var onManagement = ListenerTag.Of(context) == Listener.Management;
        if (onManagement == (caller.Kind == CallerKind.Operator))
        {
            return null;
        }

        return new CertificateRefusedException(
            ProblemTypes.WrongListener,
            "This certificate is not for this listener",
            onManagement
                ? $"{caller.Uri} is not an operator: the management listener takes only operator certificates (govshare:operator/<division>/<id>, 'govshare certs operator')."
                : $"{caller.Uri} is an operator certificate: operators use the management listener, not the exchange listener.");
    }

    private static async Task OnChallenge(CertificateChallengeContext context)
    {
        var http = context.HttpContext;
        var result = await http.AuthenticateAsync(CertificateAuthenticationDefaults.AuthenticationScheme);
        var certificate = await http.Connection.GetClientCertificateAsync();
        var refusal = result.Failure as CertificateRefusedException
            ?? (certificate is null
                ? new CertificateRefusedException(ProblemTypes.CertificateRequired, "A client certificate is required", "Connect with your department's client certificate (mutual TLS).")
                : CertificateRefusedException.Diagnose(certificate, http.RequestServices.GetRequiredService<TrustMaterial>(), http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()));
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GovShare.Node.Identity");
        LogRefused(logger, certificate?.Subject ?? "(none)", certificate?.SerialNumber ?? "-", refusal.ProblemType, refusal.Message);
        context.HandleResponse();
        await Problem.WriteAsync(http, StatusCodes.Status401Unauthorized, refusal.ProblemType, refusal.Title, refusal.Message);
    }

    [LoggerMessage(EventId = 1003, EventName = "IssuerOutOfScope", Level = LogLevel.Warning, Message = "Refused {Caller}: its CA {Issuer} may not speak for it: {Detail}")]
    private static partial void LogOutOfScope(ILogger logger, string caller, string issuer, string detail);

    [LoggerMessage(EventId = 1001, EventName = "CertificateRefused", Level = LogLevel.Debug, Message = "Refused client certificate {Subject} (serial {Serial}): {ProblemType}: {Detail}")]
    private static partial void LogRefused(ILogger logger, string subject, string serial, string problemType, string detail);
}

/// <summary>
/// The caller must be a department registered here, or a node linked here. Identity decides for
/// departments (<see cref="RegisteredCallerHandler"/>); the hierarchy, which holds the links,
/// adds the handler that decides for nodes.
/// </summary>
internal sealed class RegisteredCallerRequirement : IAuthorizationRequirement;

internal sealed partial class RegisteredCallerHandler(DepartmentRegistry registry, ILogger<RegisteredCallerHandler> logger)
    : AuthorizationHandler<RegisteredCallerRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RegisteredCallerRequirement requirement)
    {
        if (CallerIdentity.FromPrincipal(context.User) is not { Kind: CallerKind.Department } caller)
        {
            return Task.CompletedTask;
        }

        // A department is served if registered here, or if a linked node vouched for it
        // (checked by the on-behalf-of middleware).
        if (registry.IsRegistered(caller) || Vouching.Via(context.User) is not null)
        {
            context.Succeed(requirement);
            return Task.CompletedTask;
        }

        LogNotRegistered(logger, caller.Uri);
        context.Fail(new AuthorizationFailureReason(this, $"Department {caller.CreditCode} of {caller.DivisionCode} is not registered with this node; ask the node's operator to register it."));
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1002, EventName = "CallerNotRegistered", Level = LogLevel.Debug, Message = "Refused {Caller}: valid certificate, but not registered with this node")]
    private static partial void LogNotRegistered(ILogger logger, string caller);
}

/// <summary>Turns authorization refusals into problem+json instead of bare status codes.</summary>
internal sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden)
        {
            var reason = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault();
            var (type, title) = reason?.Handler is AuthorizationHandler<RegisteredCallerRequirement>
                ? CallerIdentity.FromPrincipal(context.User)?.Kind == CallerKind.Node
                    ? (ProblemTypes.NodeNotLinked, "The node is not linked with this node")
                    : (ProblemTypes.DepartmentNotRegistered, "The caller is not registered with this node")
                : (ProblemTypes.Forbidden, "Forbidden");
            return Problem.WriteAsync(context, StatusCodes.Status403Forbidden, type, title, reason?.Message);
        }

        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
