using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Identity;

/// <summary>Wires mTLS identity: certificate authentication, CRL checks, the department registry.</summary>
public static partial class IdentitySetup
{
    private const string SuppressAutoDefaultScheme = "Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme";

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

        // No default scheme: nothing authenticates a request behind the node's gate (ASP.NET's
        // authentication middleware is left out of the pipeline, GovShareNode). CallerGate asks the
        // certificate handler on a connection's first request and remembers its verdict on the
        // connection's certificate object after that. ASP.NET makes a single registered scheme the
        // default unless this switch is set (the only way to turn that off; read when the options
        // are first made, after this).
        AppContext.SetSwitch(SuppressAutoDefaultScheme, true);
        services.AddAuthentication()
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
        // regardless (CallerGate). In front of that shared cache, the result is also remembered on
        // the connection's certificate object, so a kept-alive connection's requests need neither
        // the handler nor the shared cache's SHA-256 key (ConnectionValidationCache says what that
        // may and may not outlive).
        var cacheFor = TimeSpan.FromMinutes(2);
        services.AddSingleton(sp => new ConnectionValidationCache(
            new CertificateValidationCache(Microsoft.Extensions.Options.Options.Create(new CertificateValidationCacheOptions
            {
                CacheSize = 4096,
                CacheEntryExpiration = cacheFor,
            })),
            sp.GetRequiredService<TimeProvider>(),
            cacheFor));
        services.AddSingleton<ICertificateValidationCache>(sp => sp.GetRequiredService<ConnectionValidationCache>());
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
    internal static partial void LogRefused(ILogger logger, string subject, string serial, string problemType, string detail);
}
