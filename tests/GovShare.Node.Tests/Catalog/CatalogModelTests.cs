using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Tests.Catalog;

public sealed class ResourceCodeTests
{
    [Theory]
    [InlineData("101002/000001")]
    [InlineData("101002001/000017")]
    [InlineData("310203123456/999999")]
    public void IsValid_WellFormed_True(string code) => Assert.True(ResourceCode.IsValid(code));

    [Theory]
    [InlineData("10100/000001", "resourceCode.classificationLength")]
    [InlineData("1010020011234/00001", "resourceCode.classificationLength")]
    [InlineData("101002/00001", "resourceCode.sequenceLength")]
    [InlineData("10A002/000001", "resourceCode.classificationDigits")]
    [InlineData("101002/00000x", "resourceCode.sequenceDigits")]
    [InlineData("401002/000001", "resourceCode.class")]
    [InlineData("../../etc/passwd", "resourceCode.format")]
    [InlineData("101002/../000001", "resourceCode.format")]
    [InlineData("101002000001", "resourceCode.format")]
    [InlineData("１０１００２/000001", "resourceCode.classificationDigits")]
    [InlineData("1010020011111111111111111/000001", "resourceCode.tooLong")]
    [InlineData("", "required")]
    public void Check_Malformed_ReportsItsCode(string code, string expected)
    {
        var errors = ResourceCode.Check(code);
        Assert.Contains(errors, e => e.Code == expected);
        Assert.False(ResourceCode.IsValid(code));
    }

    [Fact]
    public void IsValid_AgreesWithCheck_OnEveryEdgeOfTheGrammar()
    {
        // IsValid is Check's rules without its list (it runs twice an exchange): they must never disagree.
        string[] classifications = ["", "1", "10100", "101002", "201002", "301002", "001002", "401002", "101002001", "10100200112", "101002001123", "1010020011234", "10a002", "１01002", "101 02", "-101002"];
        string[] sequences = ["", "00001", "000001", "999999", "0000001", "00000a", "０00001", "000-01"];
        var codes = new List<string?> { null, "", "/", "//", "101002", "101002000001", "101002/000001/", "/101002/000001", "101002//000001", "101002\\000001", "101002-000001", new string('1', 19), new string('1', 12) + "/" + new string('0', 6) + "0" };
        codes.AddRange(classifications.SelectMany(c => sequences.Select(q => c + "/" + q)));
        codes.AddRange(classifications.Select(c => c + "/000001/1"));
        foreach (var code in codes)
        {
            Assert.True(ResourceCode.IsValid(code) == (code is not null && ResourceCode.Check(code).Count == 0), $"IsValid and Check disagree on '{code}'");
        }

        Assert.Contains(codes, code => ResourceCode.IsValid(code));
    }

    [Fact]
    public void Category_FromClassDigit()
    {
        Assert.Equal(ResourceCategory.Base, ResourceCode.CategoryOf("101002/000001"));
        Assert.Equal(ResourceCategory.Thematic, ResourceCode.CategoryOf("201002/000001"));
        Assert.Equal(ResourceCategory.Departmental, ResourceCode.CategoryOf("301002/000001"));
        Assert.Null(ResourceCode.CategoryOf("901002/000001"));
    }

    [Theory]
    [InlineData("..")]
    [InlineData("..-..")]
    [InlineData("101002%2F000001")]
    [InlineData("101002/000001")]
    [InlineData("101002-000001-1")]
    [InlineData("101002-0000１")]
    public void TryFromUrl_Malformed_False(string segment) => Assert.False(ResourceCode.TryFromUrl(segment, out _));

    [Fact]
    public void TryFromUrl_RoundTripsToUrl()
    {
        Assert.Equal("101002001-000017", ResourceCode.ToUrl("101002001/000017"));
        Assert.True(ResourceCode.TryFromUrl("101002001-000017", out var code));
        Assert.Equal("101002001/000017", code);
    }
}

public sealed class ItemDataTypeTests
{
    [Theory]
    [InlineData("utf8", ArrowTypeId.String)]
    [InlineData("INT32", ArrowTypeId.Int32)]
    [InlineData("int64", ArrowTypeId.Int64)]
    [InlineData("float64", ArrowTypeId.Double)]
    [InlineData("boolean", ArrowTypeId.Boolean)]
    [InlineData("date32", ArrowTypeId.Date32)]
    [InlineData("timestamp", ArrowTypeId.Timestamp)]
    [InlineData("binary", ArrowTypeId.Binary)]
    [InlineData("decimal128(18, 2)", ArrowTypeId.Decimal128)]
    public void Parse_EachKnownType_MapsToArrow(string text, ArrowTypeId expected) =>
        Assert.Equal(expected, ItemDataType.Parse(text).ToArrowType().TypeId);

    [Theory]
    [InlineData("string")]
    [InlineData("varchar(20)")]
    [InlineData("decimal128(39,2)")]
    [InlineData("decimal128(5,6)")]
    [InlineData("decimal128(5)")]
    [InlineData("decimal128(-1,0)")]
    [InlineData("")]
    public void TryParse_Unknown_False(string text) => Assert.False(ItemDataType.TryParse(text, out _));

    [Fact]
    public void Decimal_PrecisionAndScaleKept()
    {
        var type = ItemDataType.Parse("Decimal128(18,2)");
        Assert.Equal("decimal128(18,2)", type.ToString());
        var arrow = Assert.IsType<Decimal128Type>(type.ToArrowType());
        Assert.Equal((18, 2), (arrow.Precision, arrow.Scale));
        Assert.True(type.Matches(new Decimal128Type(18, 2)));
        Assert.False(type.Matches(new Decimal128Type(18, 3)));
    }
}

public sealed class CatalogEntryTests
{
    private static readonly CatalogEntry Entry = CatalogFixture.Entry("101002/000001", CatalogFixture.Police, items:
    [
        new InformationItem("citizen_id", "公民身份号码", "utf8", 18, Nullable: false),
        new InformationItem("income", "Annual Income", "decimal128(18,2)"),
        new InformationItem("updated", "更新时间", "timestamp"),
    ]);

    [Fact]
    public void ArrowSchema_FieldsNamedByItemNameWithIdMetadata()
    {
        var schema = Entry.ArrowSchema();
        Assert.Equal(["公民身份号码", "Annual Income", "更新时间"], schema.FieldsList.Select(f => f.Name));
        var first = schema.FieldsList[0];
        Assert.False(first.IsNullable);
        Assert.Equal(ArrowTypeId.String, first.DataType.TypeId);
        Assert.Equal("citizen_id", first.Metadata[CatalogEntry.ItemIdMetadataKey]);
        Assert.Equal(new TimestampType(TimeUnit.Microsecond, "UTC").Timezone, ((TimestampType)schema.FieldsList[2].DataType).Timezone);
        Assert.Equal("101002/000001", schema.Metadata[CatalogEntry.ResourceCodeMetadataKey]);
    }

    [Theory]
    [InlineData("citizen_id", "citizen_id")]
    [InlineData("  CITIZEN_ID ", "citizen_id")]
    [InlineData("ｃｉｔｉｚｅｎ＿ｉｄ", "citizen_id")]            // full-width
    [InlineData("公民身份号码", "citizen_id")]
    [InlineData("公民身份\u200B号码", "citizen_id")]            // zero-width space
    [InlineData("annual   income", "income")]
    [InlineData("ＡＮＮＵＡＬ ＩＮＣＯＭＥ", "income")]
    public void ResolveItem_Variants_ResolveToSameItem(string asked, string expectedId) =>
        Assert.Equal(expectedId, Entry.ResolveItem(asked)?.Id);

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("citizen")]
    [InlineData("公民身份号")]
    public void ResolveItem_NoSuchItem_Null(string asked) => Assert.Null(Entry.ResolveItem(asked));

    [Fact]
    public void Json_CamelCaseAndStringEnums_RoundTrips()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(CatalogFixture.Entry("101002/000001", CatalogFixture.Police, ShareType.NotShared), CatalogJson.Options);
        Assert.Contains("\"shareType\"", json.Replace("\"type\"", "\"shareType\"", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("\"notShared\"", json, StringComparison.Ordinal);
        Assert.Contains("\"keepEnds\"", json, StringComparison.Ordinal);
        Assert.Contains("\"resourceCode\":\"101002/000001\"", json, StringComparison.Ordinal);
        var back = System.Text.Json.JsonSerializer.Deserialize<CatalogEntry>(json, CatalogJson.Options)!;
        Assert.Equal(MaskingRule.KeepEnds(6, 4), back.Items[0].Masking);
        Assert.Equal(ShareType.NotShared, back.Share.Type);
        Assert.Equal(ResourceCategory.Base, back.Category);
    }
}
