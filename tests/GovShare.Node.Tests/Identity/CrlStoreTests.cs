using GovShare.Node.Identity;
using GovShare.Node.Pki;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace GovShare.Node.Tests.Identity;

/// <summary>
/// The chain verdict a kept-alive connection's certificate object remembers (CrlStore.CheckChain):
/// it never outlives the CRL snapshot it was read from, nor the first of the chain's CRLs to go stale.
/// Each test asks about one and the same certificate object, as every request of one connection does.
/// </summary>
public sealed class CrlStoreTests : IDisposable
{
    private static readonly TimeSpan Grace = TimeSpan.FromHours(1);
    private readonly TestPki _pki = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    public void Dispose() => _pki.Dispose();

    [Fact]
    public void CheckChain_SameObject_RevokedAfterItWasFoundGood_IsRevokedOnceTheNewCrlIsRead()
    {
        var crls = Store();
        var department = _pki.IssueDepartment();
        Assert.Equal(RevocationStatus.Good, crls.CheckChain(department.Certificate).Status);
        Assert.Equal(RevocationStatus.Good, crls.CheckChain(department.Certificate).Status);

        Assert.NotNull(_pki.Folder.Revoke(department.Certificate.SerialNumber, _time.GetUtcNow()));
        // The folder is re-read at most once a second (CrlStore's rescan); the next request after that sees the new CRL.
        _time.Advance(TimeSpan.FromSeconds(2));

        var verdict = crls.CheckChain(department.Certificate);
        Assert.Equal(RevocationStatus.Revoked, verdict.Status);
        Assert.Contains(department.Certificate.SerialNumber, verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckChain_SameObject_IntermediateRevokedAfterTheLeafWasFoundGood_IsRevoked()
    {
        var crls = Store();
        var department = _pki.IssueDepartment();
        Assert.Equal(RevocationStatus.Good, crls.CheckChain(department.Certificate).Status);

        var kunming = _pki.Folder.AllAuthorities().Single(ca => ca.Certificate.Subject.Contains("Kunming", StringComparison.Ordinal));
        Assert.NotNull(_pki.Folder.Revoke(kunming.Certificate.SerialNumber, _time.GetUtcNow()));
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(RevocationStatus.Revoked, crls.CheckChain(department.Certificate).Status);
    }

    [Fact]
    public void CheckChain_SameObject_PastTheCrlsNextUpdateAndGrace_FailsClosedWithoutAnyFileChange()
    {
        var crls = Store();
        var department = _pki.IssueDepartment();
        Assert.Equal(RevocationStatus.Good, crls.CheckChain(department.Certificate).Status);

        // The CRLs were published "now" for PkiFolder.CrlValidity; nothing in the folder changes, so the snapshot stays.
        _time.Advance(PkiFolder.CrlValidity + Grace - TimeSpan.FromMinutes(1));
        Assert.Equal(RevocationStatus.Good, crls.CheckChain(department.Certificate).Status);

        _time.Advance(TimeSpan.FromMinutes(2));
        var verdict = crls.CheckChain(department.Certificate);
        Assert.Equal(RevocationStatus.Unknown, verdict.Status);
        Assert.Contains("expired", verdict.Reason, StringComparison.Ordinal);
    }

    private CrlStore Store() =>
        new(_pki.Folder.CrlFolder, Grace, [.. _pki.Folder.AllAuthorities().Select(ca => ca.Certificate)], _time, NullLogger<CrlStore>.Instance);
}
