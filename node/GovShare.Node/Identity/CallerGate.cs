using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Identity;

/// <summary>
/// Decides which listener may serve a request's endpoint and who is calling, once per request, on
/// both listeners: the node's own gate in place of ASP.NET's per-request authentication and
/// authorization middleware. Every request that reached an endpoint passes it; on the exchange
/// listener nothing is served to a caller it does not admit.
/// </summary>
/// <remarks>
/// <para>
/// What it checks, in this order, on every request: the endpoint is one of this listener's (else the
/// request is answered 404, as a route that does not exist, before anyone is judged); the
/// connection's certificate is valid for its identity (the chain to a configured anchor, its
/// validity period and use, the SAN URI, and which CA may speak for that identity — all decided by
/// ASP.NET's certificate handler and <see cref="IdentitySetup"/>'s <c>OnCertificateValidated</c> on the connection's first request,
/// then remembered on the connection's certificate object, <see cref="ConnectionValidationCache"/>);
/// the certificate opens this listener (operators the management listener, departments and nodes
/// the exchange listener); no certificate of its chain is revoked, against the CRLs held now; and on
/// the exchange listener a department is registered here. Whether a node is linked, and whom a
/// linked node may act for, is the hierarchy's (<c>OnBehalfOfMiddleware</c>, next in the pipeline).
/// </para>
/// <para>
/// Why not the framework's middleware: on a kept-alive connection it made an authentication handler,
/// a ticket and a policy evaluation for every request to reach the same remembered verdict — about a
/// tenth of a one-row pull's CPU (benchmarks/results/profile-small-exchanges.txt). The handler still
/// validates every certificate the node has not judged on this connection, so the trust decisions
/// are made by the same code as before; the gate only stops asking again.
/// </para>
/// <para>
/// A request that matched no endpoint passes untouched: routing answers it 404 whoever calls, as it
/// did when authentication judged it. The management listener lets a caller without a valid
/// certificate through, anonymous: an operator on the node's host may still present the bootstrap
/// token, which the management API checks.
/// </para>
/// </remarks>
public sealed partial class CallerGate(
    RequestDelegate next,
    ConnectionValidationCache validations,
    CrlStore crls,
    DepartmentRegistry registry,
    DepartmentCertificates certificates,
    ILoggerFactory loggers)
{
    private const string Scheme = CertificateAuthenticationDefaults.AuthenticationScheme;

    // The category of every identity refusal, the certificate handler's challenge included.
    private readonly ILogger logger = loggers.CreateLogger("GovShare.Node.Identity");

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            return next(context);
        }

        // A route belongs to one listener: on the other it is unknown, exactly as a route that does
        // not exist, whoever calls. Read once here for this check and the caller's below.
        var listener = ListenerTag.Of(context);
        if ((endpoint.Metadata.GetMetadata<ManagementEndpointAttribute>() is not null) != (listener == Listener.Management))
        {
            context.SetEndpoint(null);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        // The handshake asked for the certificate, so the connection holds it: a kept-alive
        // connection's request finds its remembered verdict without an await.
        if (context.Connection.ClientCertificate is { } certificate && validations.Remembered(certificate) is { } principal)
        {
            context.User = principal;
            return Admit(context, certificate, listener);
        }

        return AuthenticateAsync(context, listener);
    }

    private async Task AuthenticateAsync(HttpContext context, Listener listener)
    {
        var result = await context.AuthenticateAsync(Scheme);
        if (result.Succeeded && await context.Connection.GetClientCertificateAsync() is { } certificate)
        {
            context.User = result.Principal;
            await Admit(context, certificate, listener);
            return;
        }

        if (listener == Listener.Management)
        {
            await next(context);
            return;
        }

        // The certificate handler's challenge writes the 401 problem naming why (IdentitySetup.OnChallenge).
        await context.ChallengeAsync(Scheme);
    }

    private Task Admit(HttpContext context, X509Certificate2 certificate, Listener listener)
    {
        var caller = CallerIdentity.FromPrincipal(context.User);
        if (caller is null)
        {
            // The handler's principal always names its caller; anything else is not let through.
            return Refuse(context, certificate, StatusCodes.Status401Unauthorized, CertificateRefusedException.Unrecognised("The certificate's identity could not be read."));
        }

        // Operators manage the node, departments and nodes exchange: a certificate opens one
        // listener only, so a department's key cannot register departments, nor an operator's
        // pull data. Checked per request: the remembered verdict knows no listener.
        var onManagement = listener == Listener.Management;
        if (onManagement != (caller.Kind == CallerKind.Operator))
        {
            return Refuse(context, certificate, StatusCodes.Status401Unauthorized, WrongListener(caller, onManagement));
        }

        // Revocation acts at once, on connections already open too: against the CRLs held now.
        if (IdentitySetup.Refusal(crls.CheckChain(certificate)) is { } revoked)
        {
            return Refuse(context, certificate, StatusCodes.Status401Unauthorized, revoked);
        }

        if (caller.Kind != CallerKind.Department)
        {
            return next(context);
        }

        // Per request and after the revocation check: a department switching back and forth between
        // two certificates is remembered with the one it used last.
        certificates.Saw(caller, certificate);
        if (!registry.IsRegistered(caller))
        {
            LogNotRegistered(logger, caller.Uri);
            return Problem.WriteAsync(
                context,
                StatusCodes.Status403Forbidden,
                ProblemTypes.DepartmentNotRegistered,
                "The caller is not registered with this node",
                $"Department {caller.CreditCode} of {caller.DivisionCode} is not registered with this node; ask the node's operator to register it.");
        }

        return next(context);
    }

    private Task Refuse(HttpContext context, X509Certificate2 certificate, int status, CertificateRefusedException refusal)
    {
        IdentitySetup.LogRefused(logger, certificate.Subject, certificate.SerialNumber, refusal.ProblemType, refusal.Message);
        return Problem.WriteAsync(context, status, refusal.ProblemType, refusal.Title, refusal.Message);
    }

    private static CertificateRefusedException WrongListener(CallerIdentity caller, bool onManagement) => new(
        ProblemTypes.WrongListener,
        "This certificate is not for this listener",
        onManagement
            ? $"{caller.Uri} is not an operator: the management listener takes only operator certificates (govshare:operator/<division>/<id>, 'govshare certs operator')."
            : $"{caller.Uri} is an operator certificate: operators use the management listener, not the exchange listener.");

    [LoggerMessage(EventId = 1002, EventName = "CallerNotRegistered", Level = LogLevel.Debug, Message = "Refused {Caller}: valid certificate, but not registered with this node")]
    private static partial void LogNotRegistered(ILogger logger, string caller);
}
