using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Catalog;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Node.Tests.Requests;

/// <summary>What a catalog change withdraws from grants, and the suspension it makes, on a real LiteDB.</summary>
public sealed class GrantReconcilerTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 2, 0, 0, TimeSpan.Zero);
    private readonly string _path = Path.Combine(Path.GetTempPath(), "govshare-tests", "reconciler-" + Guid.NewGuid().ToString("N"));
    private readonly NodeDataFolder _data;

    public GrantReconcilerTests() => _data = NodeDataFolder.Open(_path);

    public void Dispose()
    {
        _data.Dispose();
        Directory.Delete(_path, recursive: true);
    }

    private static CatalogChange Change(ChangeKind kind, IReadOnlyList<FieldChange>? fields = null, IReadOnlyList<ItemChange>? items = null) =>
        new(0, "301100/000001", kind, 2, "govshare:dept/530100/x", Now, fields ?? [], items ?? []);

    [Fact]
    public void Affected_RealDiffItemRemovedAndUnshared_NamesBoth()
    {
        var provider = GovShare.Node.Identity.CallerIdentity.Department("530100", GovShare.Node.Tests.Functional.TestPki.NewCreditCode());
        var before = CatalogFixture.Entry("301100/000001", provider, ShareType.Conditional);
        var after = before with { Items = [before.Items[0] with { Shareable = false }, before.Items[2]] };
        var (fields, items) = CatalogChange.Diff(before, after);

        var affected = GrantReconciler.Affected(Change(ChangeKind.Updated, fields, items));

        Assert.NotNull(affected);
        Assert.False(affected.Value.All);
        Assert.Equal(["citizen_id", "full_name"], affected.Value.Items.Order());
        Assert.Contains("full_name removed", affected.Value.Reason, StringComparison.Ordinal);
        Assert.Contains("citizen_id no longer shared", affected.Value.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Affected_ShareBecomesNotSharedOrRetired_AllWithReason()
    {
        var provider = GovShare.Node.Identity.CallerIdentity.Department("530100", GovShare.Node.Tests.Functional.TestPki.NewCreditCode());
        var before = CatalogFixture.Entry("301100/000001", provider, ShareType.Conditional);
        var (fields, items) = CatalogChange.Diff(before, before with { Share = new ShareAttributes(ShareType.NotShared, Reason: "涉密") });

        Assert.Equal((true, "resource 301100/000001 is no longer shared: 涉密"), GrantReconciler.Affected(Change(ChangeKind.Updated, fields, items)) is { } a ? (a.All, a.Reason) : default);
        Assert.True(GrantReconciler.Affected(Change(ChangeKind.Retired))?.All);
        Assert.Null(GrantReconciler.Affected(Change(ChangeKind.Updated, [new FieldChange("name", "\"a\"", "\"b\"")])));
        Assert.Null(GrantReconciler.Affected(Change(ChangeKind.Created)));
    }

    [Fact]
    public void Append_ItemRemoved_OnlyGrantsHoldingItSuspendedGenerationMovesChangeRecorded()
    {
        var grants = new GrantStore(_data);
        var changes = new StateRequestChangeSink(_data);
        var sink = new GrantReconciler(new StateCatalogChangeSink(_data), grants, new RequestLedger(_data, changes), NullLogger<GrantReconciler>.Instance);
        Grant Make(string id, string item, GrantStatus status = GrantStatus.Active) => new(id, "530100", "11530100MB0000001X", "301100/000001",
            [new GrantedItem(item, MaskingRule.None)], "p", Now.AddDays(-1), Now.AddDays(30), status, "dec", Now);
        grants.Save(Make("g1", "full_name"));
        grants.Save(Make("g2", "birth_date"));
        grants.Save(Make("g3", "full_name", GrantStatus.Revoked));
        var generation = grants.Generation;

        sink.Append(Change(ChangeKind.Updated, items: [new ItemChange("full_name", ItemChangeKind.Removed, [])]));

        Assert.Equal(GrantStatus.Suspended, grants.Find("g1")!.Status);
        Assert.Equal(GrantStatus.Active, grants.Find("g2")!.Status);
        Assert.Equal(GrantStatus.Revoked, grants.Find("g3")!.Status);
        Assert.True(grants.Generation > generation);
        Assert.Equal("g2", grants.Effective("11530100MB0000001X", "301100/000001", "p", Now)?.Id);
        var record = Assert.Single(changes.Read(0, 10));
        Assert.Equal((RequestSubject.Grant, "g1", "active", "suspended"), (record.Subject, record.SubjectId, record.From, record.To));
        Assert.Single(sink.Read(0, 10));
    }

    [Fact]
    public void Revoke_AtStoreLevel_EffectiveGoneAtOnceAndGenerationMoves()
    {
        var grants = new GrantStore(_data);
        grants.Save(new Grant("g1", "530100", "11530100MB0000001X", "301100/000001", [new GrantedItem("full_name", MaskingRule.Redact)], "p",
            Now.AddDays(-1), Now.AddDays(30), GrantStatus.Active, "dec", Now));
        var before = grants.Generation;
        Assert.NotNull(grants.Effective("11530100MB0000001X", "301100/000001", "p", Now));

        Assert.True(grants.SetStatus("g1", GrantStatus.Revoked, "misuse", Now));

        Assert.True(grants.Generation > before);
        Assert.Null(grants.Effective("11530100MB0000001X", "301100/000001", "p", Now));
    }
}
