using System.Security.Claims;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Identity;

namespace GovShare.Benchmarks.Identity;

/// <summary>
/// <see cref="CallerIdentity.FromPrincipal"/>, read about five times per exchange (revocation
/// re-check, hop check, registration, routing, the endpoint): on a principal the node built (its
/// identity keeps the <see cref="CallerIdentity"/> it was made from) against a plain principal with
/// the same claims, read back claim by claim as every read did before.
/// </summary>
[MemoryDiagnoser]
public class CallerIdentityBenchmarks
{
    private ClaimsPrincipal _built = null!;
    private ClaimsPrincipal _plain = null!;

    [GlobalSetup]
    public void Setup()
    {
        // Vouching.Vouched builds the principal as the node does (its claims plus the vouching node's).
        _built = Vouching.Vouched(CallerIdentity.Department("530100", "11530100MB00000118"), "Certificate", "govshare:node/530000");
        _plain = new ClaimsPrincipal(new ClaimsIdentity(_built.Claims, "Certificate"));
    }

    [Benchmark(Baseline = true)]
    public CallerIdentity? FromClaims() => CallerIdentity.FromPrincipal(_plain);

    [Benchmark]
    public CallerIdentity? FromBuiltPrincipal() => CallerIdentity.FromPrincipal(_built);
}
