using System.Text;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Requests;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// The bodies the commands send, written without reflection (DepartmentJson, for the Native AOT
/// department tool), are byte for byte what the node's own <see cref="CatalogJson"/> writes and reads back:
/// names, left-out nulls, enums as camelCase strings, masking rules, dates, Chinese and HTML-sensitive text.
/// </summary>
public sealed class DepartmentJsonTests
{
    private const string Text = "云南 <b>&'\"\\ \u2028";

    private static readonly object[] Bodies =
    [
        new ConsentApplication("301100/000001", "P-2024-001", "govshare:dept/530100/11530100MB0000022C", Text),
        new ConsentApplication(null, null, null, null),
        new ConsentDecisionInput(ConsentDecision.Grant, null),
        new ConsentDecisionInput(ConsentDecision.Refuse, Text),
        new ConsentWithdrawal(Text),
        new ComplaintInput("11530100MB00000118", null, "主题", Text),
        new ComplaintInput(null, "301100/000001", "s", "d", new PublicComplainant("张伟", "13800000000")),
        new ComplaintAnswerInput(ComplaintStatus.Upheld, Text),
        new ComplaintAnswerInput(ComplaintStatus.Dismissed, null),
        new ShareApplication("301100/000001", ["code", "姓名"], new RequestPurpose("P-2024-001", Text), "《条例》第25条",
            new UsePeriod(new DateOnly(2026, 1, 1), new DateOnly(2026, 12, 31)), new RequestContact("李四", "0871-1234567", "li@example.cn")),
        new ShareApplication(null, null, null, null, null, new RequestContact("a", "b")),
        new DecisionInput(DecisionOutcome.Approve, [new DecidedItem("code"), new DecidedItem("phone", MaskingRule.KeepEnds(3, 4)), new DecidedItem("born", MaskingRule.GeneraliseDate(DatePrecision.Month)),
            new DecidedItem("age", MaskingRule.Bucket(0, 18, 60.5)), new DecidedItem("name", MaskingRule.Redact), new DecidedItem("id", MaskingRule.Pseudonym), new DecidedItem("x", MaskingRule.None)],
            new UsePeriod(new DateOnly(2026, 2, 1), new DateOnly(2026, 3, 1))),
        new DecisionInput(DecisionOutcome.Deny, ReasonCode: "D-01", ReasonText: Text),
        new RevocationInput(null, Text),
        new OperatorGrantInput(new DepartmentRef("530100", "11530100MB0000022C"), "301100/000001", [new DecidedItem("code", MaskingRule.GeneraliseDate(DatePrecision.Year))], "P-1",
            new UsePeriod(new DateOnly(2026, 1, 1), new DateOnly(2026, 6, 30)), "云政办〔2026〕1号"),
        new DisputeInput("301100/000001", "v3", DisputeKind.Doubtful, ["k1", "键2"], ["code"], Text),
        new DisputeInput("301100/000001", "v3", DisputeKind.Wrong, null, null, "d"),
        new DisputeInput("301100/000001", "v3", DisputeKind.Inconsistent, ["k"], ["i"], "d", "ex-123"),
        new DisputeAnswerInput(DisputeStatus.Corrected, "v4", null),
        new DisputeAnswerInput(DisputeStatus.Rejected, null, Text),
        new DisputeAnswerInput(null, null, null),
    ];

    [Fact]
    public void Bodies_AreWhatTheNodesOwnOptionsWrite()
    {
        foreach (var body in Bodies)
        {
            var expected = Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), CatalogJson.Options));
            var written = Serialize(body);
            Assert.Equal(expected, Encoding.UTF8.GetString(written));

            // And the node reads it back as the same value.
            var read = JsonSerializer.Deserialize(written, body.GetType(), CatalogJson.Options);
            Assert.Equal(expected, Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(read, body.GetType(), CatalogJson.Options)));
        }
    }

    [Fact]
    public void Indented_IsWhatTheSerializerPrinted()
    {
        using var document = JsonDocument.Parse("""{"名称":"企业 <b>","n":[1,2.50,{"a":null}],"t":true}""");
        Assert.Equal(JsonSerializer.Serialize(document.RootElement, Relaxed), DepartmentJson.Indented(document.RootElement, Relaxed.Encoder));
        Assert.Equal(JsonSerializer.Serialize(document.RootElement, Plain), DepartmentJson.Indented(document.RootElement));
    }

    // How DepartmentCommand and OperatorClient printed answers before (JsonSerializer with these options).
    private static readonly JsonSerializerOptions Relaxed = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Plain = new() { WriteIndented = true };

    private static byte[] Serialize(object body) => body switch
    {
        ConsentApplication b => DepartmentJson.Serialize(b),
        ConsentDecisionInput b => DepartmentJson.Serialize(b),
        ConsentWithdrawal b => DepartmentJson.Serialize(b),
        ComplaintInput b => DepartmentJson.Serialize(b),
        ComplaintAnswerInput b => DepartmentJson.Serialize(b),
        ShareApplication b => DepartmentJson.Serialize(b),
        DecisionInput b => DepartmentJson.Serialize(b),
        RevocationInput b => DepartmentJson.Serialize(b),
        OperatorGrantInput b => DepartmentJson.Serialize(b),
        DisputeInput b => DepartmentJson.Serialize(b),
        DisputeAnswerInput b => DepartmentJson.Serialize(b),
        _ => throw new ArgumentException(body.GetType().Name),
    };
}
