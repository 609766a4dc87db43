using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Identity;
using GovShare.Node.Pki;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GovShare.Benchmarks.Identity;

/// <summary>
/// The certificate work of every request on a kept-alive connection, whose certificate is one
/// object for all its requests: the validation cache's look-up — the handler's shared
/// <see cref="CertificateValidationCache"/> (SHA-256 of the certificate as its key, a cloned
/// result) against <see cref="ConnectionValidationCache"/> in front of it (found by the object) —
/// and the revocation re-check of the chain (<see cref="CrlStore.CheckChain"/>: issuers and serials
/// found by the object; it hashed each level's certificate per request before) beside the SHA-256
/// keys alone that it no longer computes (leaf and intermediate).
/// </summary>
[MemoryDiagnoser]
public class CertificateRecheckBenchmarks
{
    private static readonly string Code = CreditCode.Complete("11530100MB0000011");
    private string _folder = "";
    private X509Certificate2 _leaf = null!;
    private X509Certificate2 _intermediate = null!;
    private CrlStore _crls = null!;
    private CertificateValidationCache _shared = null!;
    private ConnectionValidationCache _connection = null!;
    private readonly DefaultHttpContext _context = new();

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-recheck-" + Guid.NewGuid().ToString("N"));
        var pki = new PkiFolder(_folder);
        var now = DateTimeOffset.UtcNow;
        var root = pki.CreateRoot("530000", "Bench Root CA", now.AddDays(-1));
        var intermediate = pki.CreateIntermediate("530100", "Bench Kunming CA", now.AddDays(-1));
        pki.PublishCrl(root, now);
        pki.PublishCrl(intermediate, now);
        var issued = pki.IssueDepartment("530100", Code, "Bench Bureau", now.AddMinutes(-5), now.AddDays(30));
        // The leaf alone (the file holds the chain; its key is in another file): CreateFromPemFile looked for the key in it and threw.
        _leaf = X509Certificate2.CreateFromPem(File.ReadAllText(issued.CertificatePath));
        _intermediate = intermediate.Certificate;
        _crls = new CrlStore(pki.CrlFolder, TimeSpan.FromHours(1), [root.Certificate, intermediate.Certificate], TimeProvider.System, NullLogger<CrlStore>.Instance);
        var options = Options.Create(new CertificateValidationCacheOptions { CacheSize = 4096, CacheEntryExpiration = TimeSpan.FromMinutes(2) });
        _shared = new CertificateValidationCache(options);
        _connection = new ConnectionValidationCache(new CertificateValidationCache(options), TimeProvider.System, TimeSpan.FromMinutes(2));
        // The certificate handler names its scheme for the cache's key before each look-up.
        _context.Items["__CertificateAuthScheme"] = CertificateAuthenticationDefaults.AuthenticationScheme;
        var result = AuthenticateResult.Success(new AuthenticationTicket(
            // The five claims the node's principal carries (CallerIdentity.ToPrincipal).
            new ClaimsPrincipal(new ClaimsIdentity(
                [
                    new Claim(ClaimTypes.NameIdentifier, "govshare:dept/530100/" + Code),
                    new Claim(ClaimTypes.Name, "govshare:dept/530100/" + Code),
                    new Claim("govshare:kind", "Department"),
                    new Claim("govshare:division", "530100"),
                    new Claim("govshare:credit-code", Code),
                ],
                CertificateAuthenticationDefaults.AuthenticationScheme)),
            CertificateAuthenticationDefaults.AuthenticationScheme));
        _shared.Put(_context, _leaf, result);
        _connection.Put(_context, _leaf, result);
        if (_crls.CheckChain(_leaf).Status != RevocationStatus.Good || _shared.Get(_context, _leaf) is null || _connection.Get(_context, _leaf) is null)
        {
            throw new InvalidOperationException("The benchmark's PKI does not validate.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(Baseline = true)]
    public AuthenticateResult? SharedCacheGet() => _shared.Get(_context, _leaf);

    [Benchmark]
    public AuthenticateResult? ConnectionCacheGet() => _connection.Get(_context, _leaf);

    [Benchmark]
    public RevocationVerdict CheckChain() => _crls.CheckChain(_leaf);

    [Benchmark]
    public int HashKeysCheckChainNoLongerComputes() =>
        _leaf.GetCertHashString(HashAlgorithmName.SHA256).Length + _intermediate.GetCertHashString(HashAlgorithmName.SHA256).Length;
}
