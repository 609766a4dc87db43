using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;

namespace GovShare.Node.Tests.Catalog;

public sealed class CatalogStoreTests : IDisposable
{
    private readonly CatalogFixture _f = new();

    public void Dispose() => _f.Dispose();

    private CatalogStore Store => _f.Store;

    [Fact]
    public void Create_ValidEntry_StoredAtVersionOneWithChangeRecord()
    {
        var result = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police) with { Version = 99, Status = EntryStatus.Retired }, CatalogFixture.Police);

        Assert.Equal(CatalogOutcome.Created, result.Outcome);
        var stored = Store.Get("101002/000001")!;
        Assert.Equal(1, stored.Version);
        Assert.Equal(EntryStatus.Active, stored.Status);
        Assert.Equal(_f.Time.GetUtcNow(), stored.CreatedAt);
        var change = Assert.Single(Store.Changes(0, 10));
        Assert.Equal((1L, ChangeKind.Created, CatalogFixture.Police.Uri), (change.Sequence, change.Kind, change.By));
        Assert.Equal(3, change.Items.Count(i => i.Kind == ItemChangeKind.Added));
        Assert.Contains(change.Fields, f => f.Path == "name" && f.Before is null && f.After == "\"人口基本信息\"");
    }

    [Fact]
    public void Create_OtherDepartmentAsProvider_ForbiddenNothingWritten()
    {
        var result = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Civil);
        Assert.Equal(CatalogOutcome.Forbidden, result.Outcome);
        Assert.Null(Store.Get("101002/000001"));
        Assert.Empty(Store.Changes(0, 10));
    }

    [Fact]
    public void Create_NodeCaller_Forbidden()
    {
        var result = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CallerIdentity.ForNode("530100"));
        Assert.Equal(CatalogOutcome.Forbidden, result.Outcome);
    }

    [Fact]
    public void Create_CodeTaken_RefusedFirstKept()
    {
        Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police);
        var second = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police, name: "另一个"), CatalogFixture.Police);
        Assert.Equal(CatalogOutcome.CodeTaken, second.Outcome);
        Assert.Equal("人口基本信息", Store.Get("101002/000001")!.Name);
    }

    [Fact]
    public void Create_Invalid_AllErrorsNothingWritten()
    {
        var result = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police) with
        {
            Share = new ShareAttributes(ShareType.Conditional),
            Items = [new("a", "甲", "utf8"), new("b", "甲", "uuid")],
        }, CatalogFixture.Police);

        Assert.Equal(CatalogOutcome.Invalid, result.Outcome);
        Assert.Equal(["share.condition", "items[1].name", "items[1].dataType"], result.Errors!.Select(e => e.Path));
        Assert.Null(Store.Get("101002/000001"));
        Assert.Empty(Store.Changes(0, 10));
    }

    [Fact]
    public void Update_CurrentVersion_BumpsVersionAndRecordsItemDiff()
    {
        var created = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        _f.Time.SetUtcNow(_f.Time.GetUtcNow().AddDays(1));
        var changed = created with
        {
            Name = "人口基本信息（更新）",
            Items = [created.Items[0] with { Length = 20 }, created.Items[1], new InformationItem("gender", "性别", "utf8", 1)],
        };

        var result = Store.Update("101002/000001", changed, 1, CatalogFixture.Police);

        Assert.Equal(CatalogOutcome.Ok, result.Outcome);
        Assert.Equal(2, result.Entry!.Version);
        Assert.Equal(created.CreatedAt, result.Entry.CreatedAt);
        Assert.Equal(_f.Time.GetUtcNow(), result.Entry.UpdatedAt);
        var change = Store.Changes(1, 10).Single();
        Assert.Equal(ChangeKind.Updated, change.Kind);
        Assert.Equal(["name"], change.Fields.Select(f => f.Path));
        Assert.Equal(
            [("citizen_id", ItemChangeKind.Modified), ("gender", ItemChangeKind.Added), ("birth_date", ItemChangeKind.Removed)],
            change.Items.Select(i => (i.ItemId, i.Kind)));
        Assert.Equal(("length", "18", "20"), change.Items[0].Fields.Single() is var f ? (f.Path, f.Before, f.After) : default);
    }

    [Fact]
    public void Update_StaleVersion_PreconditionFailedNothingChanged()
    {
        var created = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        Store.Update("101002/000001", created with { Name = "第一个写者" }, 1, CatalogFixture.Police);

        var second = Store.Update("101002/000001", created with { Name = "第二个写者" }, 1, CatalogFixture.Police);

        Assert.Equal(CatalogOutcome.PreconditionFailed, second.Outcome);
        Assert.Equal("第一个写者", Store.Get("101002/000001")!.Name);
        Assert.Equal(2, Store.Changes(0, 10).Count);
    }

    [Fact]
    public void Update_OtherDepartmentsEntry_Forbidden()
    {
        var created = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        var result = Store.Update("101002/000001", created with { Provider = CatalogFixture.Ref(CatalogFixture.Civil) }, 1, CatalogFixture.Civil);
        Assert.Equal(CatalogOutcome.Forbidden, result.Outcome);
        Assert.Equal(CatalogOutcome.Forbidden, Store.Retire("101002/000001", 1, CatalogFixture.Civil).Outcome);
        Assert.Equal(1, Store.Get("101002/000001")!.Version);
    }

    [Fact]
    public void Update_ProviderOrCodeChanged_Invalid()
    {
        var created = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        var result = Store.Update("101002/000001", created with { ResourceCode = "101002/000002", Provider = CatalogFixture.Ref(CatalogFixture.Civil) }, 1, CatalogFixture.Police);
        Assert.Equal(["resourceCode.mismatch", "provider.changed"], result.Errors!.Select(e => e.Code));
    }

    [Fact]
    public void Update_ShareTypeChanged_OpensReviewDueInThirtyWorkingDays()
    {
        // 2026-03-02 (Monday) 10:00 in Beijing; a test calendar with a holiday Mon 6 – Fri 10 April and Sat 11 April worked.
        var calendar = new WorkingDayCalendar(
        [
            new HolidayFile(2026, "TEST", "test", null, [new HolidayPeriod("h", new DateOnly(2026, 4, 6), new DateOnly(2026, 4, 10))], [new AdjustedWorkingDay(new DateOnly(2026, 4, 11), null)]),
        ]);
        using var f = new CatalogFixture(calendar);
        var created = f.Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        Assert.Null(created.ShareReview);

        var result = f.Store.Update("101002/000001", created with { Share = new ShareAttributes(ShareType.Conditional, Condition: "仅限公安业务") }, 1, CatalogFixture.Police);

        // 30 working days from Mon 2 Mar without the holiday would be Mon 13 Apr; the holiday
        // takes 5 and the worked Saturday gives 1 back: Fri 17 Apr.
        var review = result.Entry!.ShareReview!;
        Assert.Equal(new DateOnly(2026, 4, 17), review.Due);
        Assert.Equal((ShareType.Unconditional, ShareType.Conditional), (review.From, review.To));
        Assert.Equal(30, calendar.WorkingDaysBetween(new DateOnly(2026, 3, 2), review.Due));

        // Art. 17: the change waits for the office; the terms in force stay meanwhile.
        Assert.Equal(ShareType.Unconditional, result.Entry.Share.Type);
        Assert.Equal(ShareType.Conditional, review.Proposed!.Type);
        Assert.Equal(ShareType.Unconditional, f.Store.Get("101002/000001")!.Share.Type);

        var deadlines = f.Store.Deadlines();
        Assert.Equal("101002/000001", Assert.Single(deadlines.Reviews).ResourceCode);
        Assert.False(deadlines.Reviews[0].Overdue);

        f.Time.SetUtcNow(new DateTimeOffset(2026, 4, 18, 1, 0, 0, TimeSpan.Zero));
        Assert.True(f.Store.Deadlines().Reviews.Single().Overdue);

        var approved = f.Store.DecideShareReview("101002/000001", approve: true, null, "govshare:operator/530100/zhang.wei");
        Assert.True(approved.Succeeded);
        Assert.Equal(ShareType.Conditional, approved.Entry!.Share.Type);
        Assert.Equal("仅限公安业务", approved.Entry.Share.Condition);
        Assert.True(approved.Entry.LastShareDecision is { Approved: true, Late: true, By: "govshare:operator/530100/zhang.wei" });
        Assert.Empty(f.Store.Deadlines().Reviews);
        Assert.Equal(ChangeKind.ReviewApproved, f.Store.Changes(0, 10)[^1].Kind);
    }

    [Fact]
    public void Update_ShareChangeInYearWithoutCalendar_WrittenWithProvisionalDueDate()
    {
        // Late in a year whose successor has no holiday file yet: the change is accepted, and
        // its review's due date counts weekends only and says it is provisional.
        using var f = new CatalogFixture(CatalogFixture.PlainCalendar(2025));
        var created = f.Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;

        var result = f.Store.Update("101002/000001", created with { Share = new ShareAttributes(ShareType.NotShared, Reason: "r") }, 1, CatalogFixture.Police);

        Assert.True(result.Succeeded);
        var review = f.Store.Get("101002/000001")!.ShareReview!;
        Assert.True(review.DueProvisional);
        Assert.Equal(2, f.Store.Changes(0, 10).Count);
    }

    [Fact]
    public void Deadlines_EntryNotMaintainedForAYear_Stale()
    {
        var created = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        Store.Create(CatalogFixture.Entry("101002/000002", CatalogFixture.Police), CatalogFixture.Police);
        _f.Time.SetUtcNow(_f.Time.GetUtcNow().AddMonths(11));
        Store.Update("101002/000002", Store.Get("101002/000002")!, 1, CatalogFixture.Police); // maintenance, nothing changed
        Assert.Empty(Store.Deadlines().Stale);

        _f.Time.SetUtcNow(created.UpdatedAt.AddYears(1).AddSeconds(1));
        Assert.Equal("101002/000001", Assert.Single(Store.Deadlines().Stale).ResourceCode);
    }

    [Fact]
    public void Retire_HidesFromSharingCatalogKeepsHistory()
    {
        Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police);
        var result = Store.Retire("101002/000001", 1, CatalogFixture.Police);

        Assert.Equal(EntryStatus.Retired, result.Entry!.Status);
        Assert.Empty(Store.ListSharing(new CatalogQuery()).Entries);
        Assert.Single(Store.ListResources(new CatalogQuery(IncludeRetired: true)).Entries);
        Assert.Equal([ChangeKind.Created, ChangeKind.Retired], Store.Changes(0, 10).Select(c => c.Kind));
        Assert.Equal(CatalogOutcome.Retired, Store.Update("101002/000001", result.Entry, 2, CatalogFixture.Police).Outcome);
    }

    [Fact]
    public void ListSharing_ThreeShareTypes_NotSharedWithoutItemsNonShareableItemHidden()
    {
        var withHidden = CatalogFixture.Entry("301002/000001", CatalogFixture.Police, ShareType.Unconditional, name: "户籍登记") with
        {
            Items = [new("household", "户号", "utf8"), new("internal_note", "内部备注", "utf8", Shareable: false)],
        };
        Store.Create(withHidden, CatalogFixture.Police);
        Store.Create(CatalogFixture.Entry("301002/000002", CatalogFixture.Police, ShareType.Conditional, name: "暂住登记"), CatalogFixture.Police);
        Store.Create(CatalogFixture.Entry("301002/000003", CatalogFixture.Police, ShareType.NotShared, name: "侦查信息"), CatalogFixture.Police);

        var page = Store.ListSharing(new CatalogQuery());

        Assert.Equal(3, page.Total);
        Assert.Equal(["household"], page.Entries[0].Items.Select(i => i.Id));
        Assert.Equal(3, page.Entries[1].Items.Count);
        Assert.Empty(page.Entries[2].Items);
        Assert.Equal("《中华人民共和国保守国家秘密法》", page.Entries[2].Share.Reason);

        // Searching item names must not reveal the items the view hides.
        Assert.Empty(Store.ListSharing(new CatalogQuery(Text: "内部备注")).Entries);
        Assert.Equal(["301002/000002"], Store.ListSharing(new CatalogQuery(Text: "公民身份号码")).Entries.Select(e => e.ResourceCode));
        Assert.Equal(2, Store.ListResources(new CatalogQuery(Text: "公民身份号码")).Total);
    }

    [Fact]
    public void ListSharing_Filters_DepartmentClassificationShareTypeTextAndPaging()
    {
        Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police, name: "人口基本信息"), CatalogFixture.Police);
        Store.Create(CatalogFixture.Entry("101003/000001", CatalogFixture.Police, ShareType.Conditional, name: "人口流动信息") with { Items = [new("x", "流动时间", "timestamp")] }, CatalogFixture.Police);
        Store.Create(CatalogFixture.Entry("301002/000001", CatalogFixture.Civil, name: "婚姻登记") with { Items = [new("m", "登记日期", "date32")] }, CatalogFixture.Civil);

        Assert.Equal(2, Store.ListSharing(new CatalogQuery(Department: CatalogFixture.Police.CreditCode)).Total);
        Assert.Equal(2, Store.ListSharing(new CatalogQuery(Classification: "10")).Total);
        Assert.Equal(1, Store.ListSharing(new CatalogQuery(Classification: "101003")).Total);
        Assert.Equal(1, Store.ListSharing(new CatalogQuery(ShareType: ShareType.Conditional)).Total);
        Assert.Equal(["301002/000001"], Store.ListSharing(new CatalogQuery(Text: " 婚姻 ")).Entries.Select(e => e.ResourceCode));
        Assert.Equal(["101003/000001"], Store.ListSharing(new CatalogQuery(Text: "流动时间")).Entries.Select(e => e.ResourceCode));

        var page2 = Store.ListSharing(new CatalogQuery(Page: 2, PageSize: 2));
        Assert.Equal((3, 2, 2), (page2.Total, page2.Page, page2.PageSize));
        Assert.Equal(["301002/000001"], page2.Entries.Select(e => e.ResourceCode));
    }

    [Fact]
    public void Create_ItemHeldByAnotherDepartment_PossibleDuplicateReportedBothWays()
    {
        Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police);

        // Civil affairs registers a resource whose 公民身份号码 (utf8) duplicates the police's, spelt in full width.
        var result = Store.Create(CatalogFixture.Entry("301002/000001", CatalogFixture.Civil, name: "婚姻登记") with
        {
            Items = [new("party_id", "公民身份号码 ", "UTF8"), new("birth", "出生日期", "utf8"), new("reg_date", "登记日期", "date32")],
        }, CatalogFixture.Civil);

        var duplicate = Assert.Single(result.Duplicates!);
        Assert.Equal(("301002/000001", "party_id", "101002/000001", "citizen_id"), (duplicate.ResourceCode, duplicate.ItemId, duplicate.HeldByResourceCode, duplicate.HeldByItemId));
        Assert.Equal(CatalogFixture.Ref(CatalogFixture.Police).Key, duplicate.HeldByDepartment);

        Assert.Single(Store.Duplicates());
        Assert.Single(Store.Duplicates(CatalogFixture.Police.CreditCode));
        Assert.Single(Store.Duplicates(CatalogFixture.Civil.CreditCode));
        Assert.Empty(Store.Duplicates(CatalogFixture.Health.CreditCode));

        // A department's own resources never flag each other; the other department's still does.
        var again = Store.Create(CatalogFixture.Entry("101002/000002", CatalogFixture.Police), CatalogFixture.Police).Duplicates!;
        Assert.Equal(["301002/000001"], again.Select(d => d.HeldByResourceCode));

        // Retiring the civil affairs resource clears every pair.
        Store.Retire("301002/000001", 1, CatalogFixture.Civil);
        Assert.Empty(Store.Duplicates());
    }

    [Fact]
    public void Create_ThematicReferences_CheckedAgainstCatalog()
    {
        Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police);
        var thematic = CatalogFixture.Entry("201002/000001", CatalogFixture.Health, name: "健康档案专题") with
        {
            Items = [new("visit", "就诊日期", "date32")],
            Thematic = new ThematicAttributes(
            [
                new ItemReference("101002/000001", "citizen_id"),
                new ItemReference("101002/000001", "no_such_item"),
                new ItemReference("101002/000009", "citizen_id"),
            ]),
        };

        var refused = Store.Create(thematic, CatalogFixture.Health);
        Assert.Equal(["reference.unknownItem", "reference.unknownResource"], refused.Errors!.Select(e => e.Code));

        var accepted = Store.Create(thematic with { Thematic = new ThematicAttributes([new ItemReference("101002/000001", "citizen_id")]) }, CatalogFixture.Health);
        Assert.Equal(CatalogOutcome.Created, accepted.Outcome);
        Assert.Equal(ResourceCategory.Thematic, accepted.Entry!.Category);
    }

    [Fact]
    public void Import_OneBadEntry_NothingWrittenAllErrorsReported()
    {
        var good = CatalogFixture.Entry("301002/000001", CatalogFixture.Police);
        var bad = CatalogFixture.Entry("301002/000002", CatalogFixture.Police, ShareType.NotShared) with { Share = new ShareAttributes(ShareType.NotShared) };
        var foreign = CatalogFixture.Entry("301002/000003", CatalogFixture.Civil);

        var result = Store.Import([good, bad, foreign, good], CatalogFixture.Police);

        Assert.Equal(CatalogOutcome.Invalid, result.Outcome);
        Assert.Equal(["entries[1].share.reason", "entries[2].provider", "entries[3].resourceCode"], result.Errors.Select(e => e.Path));
        Assert.Equal(0, Store.ListResources(new CatalogQuery()).Total);
        Assert.Empty(Store.Changes(0, 10));
    }

    [Fact]
    public void Import_NewAndExisting_CreatesAndUpdatesWithVersionCheck()
    {
        var existing = Store.Create(CatalogFixture.Entry("301002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        var result = Store.Import([existing with { Name = "改名" }, CatalogFixture.Entry("301002/000002", CatalogFixture.Police)], CatalogFixture.Police);

        Assert.Equal(CatalogOutcome.Ok, result.Outcome);
        Assert.Equal((2L, "改名"), (Store.Get("301002/000001")!.Version, Store.Get("301002/000001")!.Name));
        Assert.Equal(1, Store.Get("301002/000002")!.Version);

        var stale = Store.Import([existing with { Name = "旧版本" }], CatalogFixture.Police);
        Assert.Equal("version.stale", Assert.Single(stale.Errors).Code);
        Assert.Equal("改名", Store.Get("301002/000001")!.Name);
    }

    [Fact]
    public void Restart_CatalogAndChangeLogSurvive()
    {
        var created = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        Store.Update("101002/000001", created with { Abstract = "新摘要" }, 1, CatalogFixture.Police);
        Store.Create(CatalogFixture.Entry("301002/000001", CatalogFixture.Civil) with { Items = [new("party", "公民身份号码", "utf8")] }, CatalogFixture.Civil);

        _f.Restart();

        Assert.Equal((2L, "新摘要"), (Store.Get("101002/000001")!.Version, Store.Get("101002/000001")!.Abstract));
        Assert.Equal([1L, 2L, 3L], Store.Changes(0, 10).Select(c => c.Sequence));
        Assert.Single(Store.Duplicates());
        var next = Store.Update("101002/000001", Store.Get("101002/000001")!, 2, CatalogFixture.Police);
        Assert.Equal(4, Store.Changes(0, 10)[^1].Sequence);
        Assert.Equal(3, next.Entry!.Version);
    }

    [Fact]
    public void Update_Concurrent_ExactlyOneWinsPerVersion()
    {
        var created = Store.Create(CatalogFixture.Entry("101002/000001", CatalogFixture.Police), CatalogFixture.Police).Entry!;
        var outcomes = Enumerable.Range(0, 8).AsParallel()
            .Select(i => Store.Update("101002/000001", created with { Name = $"写者{i}" }, 1, CatalogFixture.Police).Outcome)
            .ToList();
        Assert.Equal(1, outcomes.Count(o => o == CatalogOutcome.Ok));
        Assert.Equal(7, outcomes.Count(o => o == CatalogOutcome.PreconditionFailed));
        Assert.Equal([1L, 2L], Store.Changes(0, 10).Select(c => c.Sequence));
    }
}
