using System.Text;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Tests.Catalog;

public sealed class CatalogCsvTests
{
    [Fact]
    public void Write_StartsWithBomAndRoundTrips()
    {
        IReadOnlyList<InformationItem> items =
        [
            new("citizen_id", "公民身份号码", "utf8", 18, false, true, Sensitivity.Sensitive, MaskingRule.KeepEnds(6, 4)),
            new("note", "备注, \"引号\"\n换行", "utf8"),
            new("age", "年龄", "int32", null, true, false, Sensitivity.Internal, MaskingRule.Bucket(18, 60.5)),
            new("birth", "出生日期", "date32", Masking: MaskingRule.GeneraliseDate(DatePrecision.Month)),
        ];
        var bytes = CatalogCsv.Write(items);
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes[..3]);

        var (parsed, errors) = CatalogCsv.Parse(Encoding.UTF8.GetString(bytes));
        Assert.Empty(errors);
        Assert.Equal(items.Count, parsed.Count);
        for (var i = 0; i < items.Count; i++)
        {
            Assert.Equal(items[i] with { Masking = null }, parsed[i] with { Masking = null });
            Assert.Equal(CatalogCsv.FormatMasking(items[i].Masking), CatalogCsv.FormatMasking(parsed[i].Masking));
        }
    }

    [Theory]
    [InlineData("=HYPERLINK(\"http://x\")")]
    [InlineData("+1+2")]
    [InlineData("-2+3")]
    [InlineData("@SUM(A1)")]
    public void Write_FormulaLikeCell_PrefixedAndRestoredOnParse(string name)
    {
        var text = Encoding.UTF8.GetString(CatalogCsv.Write([new InformationItem("x", name, "utf8")]));
        var row = text.Split("\r\n")[1];
        Assert.DoesNotContain("," + name[0], row.Replace(",\"", ",", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("'" + name[0], row, StringComparison.Ordinal);

        var (parsed, errors) = CatalogCsv.Parse(text);
        Assert.Empty(errors);
        Assert.Equal(name, Assert.Single(parsed).Name);
    }

    [Fact]
    public void Parse_Defects_EachReportedWithRow()
    {
        const string csv = "id,name,dataType,length,nullable,shareable,sensitivity,masking\r\n" +
            "a,甲,utf8,ten,yes,true,secret,keepEnds(1)\r\n" +
            "b,乙,utf8\r\n";
        var (_, errors) = CatalogCsv.Parse(csv);
        Assert.Equal(
            ["items.csv:row 2.length", "items.csv:row 2.nullable", "items.csv:row 2.sensitivity", "items.csv:row 2.masking", "items.csv:row 3"],
            errors.Select(e => e.Path));
    }

    [Fact]
    public void Parse_WrongHeaderOrOpenQuote_Refused()
    {
        Assert.Equal("csv.header", Assert.Single(CatalogCsv.Parse("a,b\r\n1,2\r\n").Errors).Code);
        Assert.Equal("csv.unterminatedQuote", Assert.Single(CatalogCsv.Parse("id,name\r\n\"a,b\r\n").Errors).Code);
    }
}
