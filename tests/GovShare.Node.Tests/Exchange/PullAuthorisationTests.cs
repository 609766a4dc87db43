using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Pull;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;
using Microsoft.Extensions.Primitives;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// The pull decision remembered on the catalog entry and grant snapshots it was made from: the same
/// snapshots give the same decision without building it again, and whatever can change between two
/// pulls — the grant revoked or expired, the entry or the grant replaced — is decided anew.
/// </summary>
public sealed class PullAuthorisationTests : IDisposable
{
    private const string Code = "301100/000001";
    private const string Purpose = "social-assistance";
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 2, 0, 0, TimeSpan.Zero);
    private static readonly CallerIdentity User = CallerIdentity.Department("530100", "11530100MB0000001X");
    private static readonly DepartmentRef Provider = new("530100", "11530100MB0000002X", "Kunming Public Security Bureau");
    private readonly string _path = Path.Combine(Path.GetTempPath(), "govshare-tests", "pull-authorisation-" + Guid.NewGuid().ToString("N"));
    private readonly NodeDataFolder _data;
    private readonly GrantStore _grants;

    public PullAuthorisationTests()
    {
        _data = NodeDataFolder.Open(_path);
        _grants = new GrantStore(_data);
    }

    public void Dispose()
    {
        _data.Dispose();
        Directory.Delete(_path, recursive: true);
    }

    private static CatalogEntry Entry(ShareType type, bool nameShareable = true) => new()
    {
        ResourceCode = Code,
        Name = "Kunming residents",
        Provider = Provider,
        Abstract = "Registered residents of Kunming",
        Format = ResourceFormat.Database,
        Share = type == ShareType.Conditional ? new ShareAttributes(type, Condition: "social assistance cases only") : new ShareAttributes(type),
        UpdateCycle = UpdateCycle.Daily,
        ReleaseDate = new DateOnly(2026, 1, 1),
        SecrecyReview = new SecrecyReview(new DateOnly(2026, 1, 1), "市保密办"),
        Items =
        [
            new InformationItem("id_number", "公民身份号码", "utf8", 18, Masking: MaskingRule.KeepEnds(6, 4)),
            new InformationItem("name", "姓名", "utf8", 50, Shareable: nameShareable),
            new InformationItem("address", "住址", "utf8", 200, Shareable: false),
        ],
    };

    private static Grant Grant(string id, MaskingRule nameMasking, GrantStatus status = GrantStatus.Active) => new(id, User.DivisionCode, User.CreditCode!, Code,
        [new GrantedItem("id_number", MaskingRule.Redact), new GrantedItem("name", nameMasking)], Purpose, Now.AddDays(-1), Now.AddDays(30), status, "decision-1", Now.AddDays(-1));

    private PullDecision Decide(CatalogEntry entry, DateTimeOffset? at = null, CallerIdentity? user = null) =>
        PullAuthorisation.Decide(entry, user ?? User, Purpose, [], _grants, at ?? Now);

    [Fact]
    public void Decide_SameGrantAndEntrySnapshots_TheRememberedDecisionAndItsAnswerKey()
    {
        var entry = Entry(ShareType.Conditional);
        _grants.Save(Grant("g1", MaskingRule.None));

        var first = Decide(entry);
        var second = Decide(entry);

        Assert.True(first.Allowed);
        Assert.Same(first, second);
        Assert.Equal(["id_number", "name"], second.ItemIds);
        Assert.Equal(MaskingKind.Redact, second.Items![0].Masking.Kind);
        // The remembered key is the key the answer cache would build for these items.
        Assert.Equal(PullAnswerCache.Key(MediaTypes.ArrowStream, false, first.Items!), second.Keys!.For(MediaTypes.ArrowStream));
        Assert.Same(second.Keys.For(MediaTypes.ArrowStream), second.Keys.For(MediaTypes.ArrowStream));
    }

    [Fact]
    public void Decide_GrantRevokedOrExpiredAfterARememberedDecision_RefusedOnTheNextPull()
    {
        var entry = Entry(ShareType.Conditional);
        _grants.Save(Grant("g1", MaskingRule.None));
        Assert.True(Decide(entry).Allowed);

        // Past the grant's period: the same snapshots, and still refused.
        Assert.Equal(ProblemTypes.NoGrant, Decide(entry, at: Now.AddDays(31)).ProblemType);

        Assert.True(_grants.SetStatus("g1", GrantStatus.Revoked, "revoked by the provider", Now));
        var refused = Decide(entry);
        Assert.False(refused.Allowed);
        Assert.Equal(ProblemTypes.NoGrant, refused.ProblemType);
    }

    [Fact]
    public void Decide_GrantOrEntryReplaced_DecidedFromTheNewSnapshot()
    {
        var entry = Entry(ShareType.Conditional);
        _grants.Save(Grant("g1", MaskingRule.None));
        var before = Decide(entry);
        Assert.Equal(MaskingKind.None, before.Items![1].Masking.Kind);

        // A grant saved again with another masking for the name: the new mask, not the remembered one.
        _grants.Save(Grant("g1", MaskingRule.Redact));
        var remasked = Decide(entry);
        Assert.Equal(MaskingKind.Redact, remasked.Items![1].Masking.Kind);
        Assert.NotEqual(before.Keys!.For(MediaTypes.ArrowStream), remasked.Keys!.For(MediaTypes.ArrowStream));

        // The catalog makes the name unshareable: it drops out though the grant lists it.
        var narrowed = Decide(Entry(ShareType.Conditional, nameShareable: false));
        Assert.Equal(["id_number"], narrowed.ItemIds);
        Assert.Equal(["id_number", "name"], Decide(entry).ItemIds);
    }

    private PullDecision DecideNamed(CatalogEntry entry, StringValues items) =>
        PullAuthorisation.Decide(entry, User, Purpose, items, _grants, Now);

    [Fact]
    public void Decide_NamedItems_TheSameQueryValue_TheRememberedChoiceAndItsNamedAnswerKey_AsParsedPerRequestBefore()
    {
        var entry = Entry(ShareType.Conditional);
        _grants.Save(Grant("g1", MaskingRule.None));

        var first = DecideNamed(entry, " 姓名 ,id_number,name,");
        var second = DecideNamed(entry, " 姓名 ,id_number,name,");

        Assert.Same(first, second);
        Assert.True(second.ItemsNamed);
        // Names and ids resolve to ids, each once, in the order named; as the list overload decides them.
        Assert.Equal(["name", "id_number"], second.ItemIds);
        var parsed = PullAuthorisation.Requested(new StringValues(" 姓名 ,id_number,name,"));
        Assert.Equal(["姓名", "id_number", "name"], parsed);
        var perRequest = PullAuthorisation.Decide(entry, User, Purpose, parsed, _grants, Now);
        Assert.Equal(perRequest.ItemIds, second.ItemIds);
        Assert.True(perRequest.ItemsNamed);
        Assert.Null(perRequest.Keys);
        // A named choice's key says the items were named: never the key of the every-item answer.
        Assert.Equal(PullAnswerCache.Key(MediaTypes.Csv, true, perRequest.Items!), second.Keys!.For(MediaTypes.Csv));
        Assert.NotEqual(Decide(entry).Keys!.For(MediaTypes.Csv), second.Keys.For(MediaTypes.Csv));

        // No names (absent, or only commas) is every allowed item, not a named choice.
        Assert.Same(Decide(entry), DecideNamed(entry, StringValues.Empty));
        Assert.Same(Decide(entry), DecideNamed(entry, ", ,"));
        // Two items values are read together, decided each time.
        var two = DecideNamed(entry, new StringValues(["name", "id_number"]));
        Assert.Equal(["name", "id_number"], two.ItemIds);
        Assert.NotSame(two, DecideNamed(entry, new StringValues(["name", "id_number"])));
    }

    [Fact]
    public void Decide_NamedItems_RefusalsDecidedEachTime_AChangedGrantOrEntryDecidedAfresh_AndTheSpellingsBounded()
    {
        var entry = Entry(ShareType.Conditional);
        _grants.Save(Grant("g1", MaskingRule.None));
        Assert.Equal(MaskingKind.None, DecideNamed(entry, "name").Items![0].Masking.Kind);

        // An unknown item, an item not granted: refused, with the names as sent, every time.
        var unknown = DecideNamed(entry, "name,nickname");
        Assert.Equal(ProblemTypes.UnknownItem, unknown.ProblemType);
        Assert.Contains("nickname", unknown.Detail, StringComparison.Ordinal);
        Assert.NotSame(unknown, DecideNamed(entry, "name,nickname"));
        Assert.Equal(ProblemTypes.ItemNotGranted, DecideNamed(entry, "住址").ProblemType);

        // The grant saved again with another mask: the named choice follows it, not the one remembered.
        _grants.Save(Grant("g1", MaskingRule.Redact));
        Assert.Equal(MaskingKind.Redact, DecideNamed(entry, "name").Items![0].Masking.Kind);
        // The catalog makes the name unshareable: refused though a choice of it was remembered.
        Assert.Equal(ProblemTypes.ItemNotGranted, DecideNamed(Entry(ShareType.Conditional, nameShareable: false), "name").ProblemType);
        // Revoked: refused.
        Assert.True(_grants.SetStatus("g1", GrantStatus.Revoked, "revoked by the provider", Now));
        Assert.Equal(ProblemTypes.NoGrant, DecideNamed(entry, "name").ProblemType);

        // Ever new spellings are not remembered without end: past the bound each is decided anew.
        var open = Entry(ShareType.Unconditional);
        for (var i = 0; i < PullAuthorisation.MaxNamedChoices; i++)
        {
            var spelling = new string(',', i) + "name";
            Assert.Same(DecideNamed(open, spelling), DecideNamed(open, spelling));
        }

        var beyond = "name" + new string(',', 1);
        Assert.Equal(["name"], DecideNamed(open, beyond).ItemIds);
        Assert.NotSame(DecideNamed(open, beyond), DecideNamed(open, beyond));
    }

    [Fact]
    public void Decide_UnconditionalAndOwnView_RememberedPerEntry_ScopeStillPerCaller()
    {
        var entry = Entry(ShareType.Unconditional);
        var first = Decide(entry);
        Assert.Same(first, Decide(entry));
        Assert.Equal(["id_number", "name"], first.ItemIds);
        Assert.Equal(MaskingKind.KeepEnds, first.Items![0].Masking.Kind);

        // The provider reads its own data unmasked, every item: another remembered decision.
        var own = Decide(entry, user: CallerIdentity.Department(Provider.DivisionCode, Provider.CreditCode));
        Assert.Equal(["id_number", "name", "address"], own.ItemIds);
        Assert.Equal(MaskingKind.None, own.Items![0].Masking.Kind);

        // A department of another province is refused by scope, though the entry's decision is remembered.
        var outside = Decide(entry, user: CallerIdentity.Department("520100", "11520100MB0000001X"));
        Assert.Equal(ProblemTypes.NotSharedNationally, outside.ProblemType);
    }
}
