using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Identity;

/// <summary>
/// The certificate handler's validation cache, with the result also remembered on the certificate
/// object of the connection that presented it. A kept-alive connection holds one
/// <see cref="X509Certificate2"/> for all its requests, so its second and later requests find their
/// result by reference instead of hashing the certificate (SHA-256 and a hex key) into the shared
/// cache; the entry dies with the connection's certificate object.
/// </summary>
/// <remarks>
/// What a remembered result can and cannot outlive: it is the shared cache's own result for exactly
/// that certificate object (same bytes: an object's certificate never changes), held for at most
/// <paramref name="lifetime"/> — the shared cache's sliding period — from when it was remembered and
/// never past the certificate's notAfter, so an expired certificate is refused on its connection at
/// once, as it is on a new one. Revocation is not decided here: the node re-checks it against the
/// held CRLs on every request (<see cref="CallerGate"/>); which CA may
/// vouch for which identity is decided when the result is made, for that certificate, and stays true
/// of it. A different certificate on the same connection (renegotiation) is a different object: a miss.
/// </remarks>
public sealed class ConnectionValidationCache(ICertificateValidationCache shared, TimeProvider time, TimeSpan lifetime) : ICertificateValidationCache
{
    private readonly ConditionalWeakTable<X509Certificate2, Held> _byCertificate = new();

    public AuthenticateResult? Get(HttpContext context, X509Certificate2 certificate)
    {
        var now = time.GetUtcNow();
        if (_byCertificate.TryGetValue(certificate, out var held))
        {
            if (now < held.Until)
            {
                // A clone, as the shared cache hands out: a request may change its own principal.
                return Clone(held.Result);
            }

            _byCertificate.Remove(certificate);
        }

        var result = shared.Get(context, certificate);
        if (result is not null)
        {
            Remember(certificate, result, now);
        }

        return result;
    }

    /// <summary>
    /// The principal of a successful result remembered for this very certificate object and still
    /// within its period, as a fresh copy (a request may replace or extend its own); null otherwise,
    /// and the caller then asks the certificate handler, which consults <see cref="Get"/>.
    /// </summary>
    public ClaimsPrincipal? Remembered(X509Certificate2 certificate) =>
        _byCertificate.TryGetValue(certificate, out var held)
        && time.GetUtcNow() < held.Until
        && held.Result is { Succeeded: true, Principal: { } principal }
            ? principal.Clone()
            : null;

    public void Put(HttpContext context, X509Certificate2 certificate, AuthenticateResult result)
    {
        shared.Put(context, certificate, result);
        Remember(certificate, Clone(result), time.GetUtcNow());
    }

    private void Remember(X509Certificate2 certificate, AuthenticateResult result, DateTimeOffset now)
    {
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        var until = now + lifetime < notAfter ? now + lifetime : notAfter;
        if (until > now)
        {
            _byCertificate.AddOrUpdate(certificate, new Held(result, until));
        }
    }

    /// <summary>What <see cref="CertificateValidationCache"/> does to a held result: a fresh ticket and principal.</summary>
    private static AuthenticateResult Clone(AuthenticateResult result) => result.Ticket is { } ticket
        ? AuthenticateResult.Success(ticket.Clone())
        : result;

    private sealed record Held(AuthenticateResult Result, DateTimeOffset Until);
}
