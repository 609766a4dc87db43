using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Tests.Catalog;

public sealed class CatalogValidatorTests
{
    private static CatalogEntry Valid => CatalogFixture.Entry("101002/000001", CatalogFixture.Police);

    [Fact]
    public void Validate_WellFormedEntry_NoErrors() => Assert.Empty(CatalogValidator.Validate(Valid));

    [Fact]
    public void Validate_ConditionalWithoutCondition_Error()
    {
        var errors = CatalogValidator.Validate(Valid with { Share = new ShareAttributes(ShareType.Conditional) });
        Assert.Equal(("share.condition", "required"), Assert.Single(errors) is var e ? (e.Path, e.Code) : default);
    }

    [Fact]
    public void Validate_NotSharedWithoutReason_Error()
    {
        var errors = CatalogValidator.Validate(Valid with { Share = new ShareAttributes(ShareType.NotShared, Reason: "  ") });
        Assert.Equal(("share.reason", "required"), Assert.Single(errors) is var e ? (e.Path, e.Code) : default);
    }

    [Fact]
    public void Validate_DuplicateNamesAfterCanonicalisation_Error()
    {
        var errors = CatalogValidator.Validate(Valid with
        {
            Items =
            [
                new InformationItem("name_a", "Full Name", "utf8"),
                new InformationItem("name_b", "ＦＵＬＬ　ｎａｍｅ ", "utf8"),
                new InformationItem("full_name", "x", "utf8"),
            ],
        });
        // "full_name" (an id) and "Full Name" (a name) canonicalise differently: no clash there.
        var error = Assert.Single(errors);
        Assert.Equal(("items[1].name", "item.duplicateName"), (error.Path, error.Code));
    }

    [Fact]
    public void Validate_IdEqualToAnotherItemsName_Error()
    {
        var errors = CatalogValidator.Validate(Valid with
        {
            Items = [new InformationItem("a", "code", "utf8"), new InformationItem("code", "编码", "utf8")],
        });
        Assert.Contains(errors, e => e is { Path: "items[1].id", Code: "item.duplicateId" });
    }

    [Fact]
    public void Validate_UnknownDataType_Error()
    {
        var errors = CatalogValidator.Validate(Valid with { Items = [new InformationItem("a", "甲", "varchar(20)")] });
        Assert.Equal(("items[0].dataType", "dataType.unknown"), Assert.Single(errors) is var e ? (e.Path, e.Code) : default);
    }

    [Fact]
    public void Validate_TooManyItems_Error()
    {
        var items = Enumerable.Range(0, CatalogLimits.MaxItems + 1).Select(i => new InformationItem($"i{i}", $"项{i}", "utf8")).ToArray();
        var errors = CatalogValidator.Validate(Valid with { Items = items });
        Assert.Equal(("items", "tooMany"), Assert.Single(errors) is var e ? (e.Path, e.Code) : default);
    }

    [Fact]
    public void Validate_ManyDefects_AllReportedAtOnce()
    {
        var bad = Valid with
        {
            ResourceCode = "../000001",
            Name = new string('名', CatalogLimits.MaxNameLength + 1),
            Abstract = "a\u0000b",
            Provider = new DepartmentRef("5301", "not-a-credit-code"),
            Share = new ShareAttributes(ShareType.Conditional, Condition: null),
            Items =
            [
                new InformationItem("Bad Id", "", "uuid", Length: 0),
                new InformationItem("ok", "甲", "int32", Length: 10, Masking: MaskingRule.Bucket(5, 1)),
            ],
            RelatedResourceCodes = ["../x", "x"],
            ReleaseDate = default,
        };

        var errors = CatalogValidator.Validate(bad);
        var paths = errors.Select(e => e.Path).ToHashSet();
        Assert.Superset(
            new HashSet<string>
            {
                "resourceCode", "name", "abstract", "provider.divisionCode", "provider.creditCode", "share.condition",
                "items[0].id", "items[0].name", "items[0].dataType", "items[0].length", "items[1].length",
                "items[1].masking.boundaries", "relatedResourceCodes[0]", "relatedResourceCodes[1]", "releaseDate",
            },
            paths);
    }

    [Fact]
    public void Validate_NullMembers_ReportedNotThrown()
    {
        var entry = System.Text.Json.JsonSerializer.Deserialize<CatalogEntry>("""{ "items": [ null, { "id": "a" } ] }""", CatalogJson.Options)!;
        var errors = CatalogValidator.Validate(entry);
        Assert.Superset(new HashSet<string> { "resourceCode", "name", "provider", "share", "items[0]", "items[1].name", "items[1].dataType" },
            errors.Select(e => e.Path).ToHashSet());
    }

    [Fact]
    public void Validate_ThematicFieldsOnDepartmentalEntry_Error()
    {
        var errors = CatalogValidator.Validate(Valid with
        {
            ResourceCode = "301002/000001",
            Thematic = new ThematicAttributes([new ItemReference("101002/000001", "citizen_id")]),
        });
        Assert.Equal("thematic.notThematic", Assert.Single(errors).Code);
    }
}
