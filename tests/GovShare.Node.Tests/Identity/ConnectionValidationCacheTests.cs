using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Identity;
using GovShare.Node.Tests.Functional;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace GovShare.Node.Tests.Identity;

/// <summary>
/// The validation result remembered on a connection's certificate object: found by that object
/// only, handed out as a fresh principal, and never held past the shared cache's period or the
/// certificate's notAfter (then the shared cache decides again).
/// </summary>
public sealed class ConnectionValidationCacheTests : IDisposable
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);
    private readonly TestPki _pki = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly CountingCache _shared = new();
    private readonly DefaultHttpContext _context = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public void Get_AfterPut_SameObject_IsServedWithoutTheSharedCache_AsAFreshPrincipal()
    {
        var certificate = _pki.IssueDepartment().Certificate;
        var cache = new ConnectionValidationCache(_shared, _time, Lifetime);
        var put = Success();
        cache.Put(_context, certificate, put);

        var first = cache.Get(_context, certificate);
        var second = cache.Get(_context, certificate);

        Assert.Equal(0, _shared.Gets);
        Assert.True(first!.Succeeded);
        Assert.Equal("govshare:dept/530100/x", first.Principal!.Identity!.Name);
        Assert.NotSame(put.Principal, first.Principal);
        Assert.NotSame(first.Principal, second!.Principal);
    }

    [Fact]
    public void Get_AnotherObjectOfTheSameCertificate_AsksTheSharedCache()
    {
        var certificate = _pki.IssueDepartment().Certificate;
        var cache = new ConnectionValidationCache(_shared, _time, Lifetime);
        cache.Put(_context, certificate, Success());

        using var copy = X509CertificateLoader.LoadCertificate(certificate.RawData);
        Assert.Null(cache.Get(_context, copy));
        Assert.Equal(1, _shared.Gets);
    }

    [Fact]
    public void Get_AfterTheSharedCachesPeriod_AsksTheSharedCacheAgain()
    {
        var certificate = _pki.IssueDepartment().Certificate;
        var cache = new ConnectionValidationCache(_shared, _time, Lifetime);
        cache.Put(_context, certificate, Success());

        _time.Advance(Lifetime - TimeSpan.FromSeconds(1));
        Assert.NotNull(cache.Get(_context, certificate));
        Assert.Equal(0, _shared.Gets);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(cache.Get(_context, certificate));
        Assert.Equal(1, _shared.Gets);
    }

    [Fact]
    public void Get_PastTheCertificatesNotAfter_AsksTheSharedCacheAgain()
    {
        var now = DateTimeOffset.UtcNow;
        var certificate = _pki.IssueDepartment(notBefore: now.AddMinutes(-5), notAfter: now.AddSeconds(30)).Certificate;
        var cache = new ConnectionValidationCache(_shared, _time, Lifetime);
        cache.Put(_context, certificate, Success());
        Assert.NotNull(cache.Get(_context, certificate));

        _time.SetUtcNow(new DateTimeOffset(certificate.NotAfter.ToUniversalTime()));
        Assert.Null(cache.Get(_context, certificate));
        Assert.Equal(1, _shared.Gets);
    }

    [Fact]
    public void Remembered_ASuccessForThisObject_AFreshPrincipalEachTime_NothingForAnotherObjectOrAFailure()
    {
        var certificate = _pki.IssueDepartment().Certificate;
        var refused = _pki.IssueDepartment().Certificate;
        var cache = new ConnectionValidationCache(_shared, _time, Lifetime);
        Assert.Null(cache.Remembered(certificate));
        var put = Success();
        cache.Put(_context, certificate, put);
        cache.Put(_context, refused, AuthenticateResult.Fail("revoked"));

        var first = cache.Remembered(certificate);
        var second = cache.Remembered(certificate);
        Assert.Equal("govshare:dept/530100/x", first!.Identity!.Name);
        Assert.NotSame(put.Principal, first);
        Assert.NotSame(first, second);

        // What the gate admits from must be a success for exactly this certificate object.
        using var copy = X509CertificateLoader.LoadCertificate(certificate.RawData);
        Assert.Null(cache.Remembered(copy));
        Assert.Null(cache.Remembered(refused));
    }

    [Fact]
    public void Remembered_NotPastTheSharedCachesPeriod_NorTheCertificatesNotAfter()
    {
        var now = DateTimeOffset.UtcNow;
        var certificate = _pki.IssueDepartment().Certificate;
        var shortLived = _pki.IssueDepartment(notBefore: now.AddMinutes(-5), notAfter: now.AddSeconds(30)).Certificate;
        var cache = new ConnectionValidationCache(_shared, _time, Lifetime);
        cache.Put(_context, certificate, Success());
        cache.Put(_context, shortLived, Success());

        _time.SetUtcNow(new DateTimeOffset(shortLived.NotAfter.ToUniversalTime()));
        Assert.Null(cache.Remembered(shortLived));
        Assert.NotNull(cache.Remembered(certificate));

        _time.SetUtcNow(now + Lifetime);
        Assert.Null(cache.Remembered(certificate));
    }

    private static AuthenticateResult Success() => AuthenticateResult.Success(new AuthenticationTicket(
        new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "govshare:dept/530100/x")], CertificateAuthenticationDefaults.AuthenticationScheme)),
        CertificateAuthenticationDefaults.AuthenticationScheme));

    /// <summary>A shared cache that holds nothing and counts how often it is asked.</summary>
    private sealed class CountingCache : ICertificateValidationCache
    {
        public int Gets { get; private set; }

        public AuthenticateResult? Get(HttpContext context, X509Certificate2 certificate)
        {
            Gets++;
            return null;
        }

        public void Put(HttpContext context, X509Certificate2 certificate, AuthenticateResult result)
        {
        }
    }
}
