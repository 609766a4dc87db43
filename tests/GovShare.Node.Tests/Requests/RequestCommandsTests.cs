using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Requests;

/// <summary>The <c>govshare request|grant</c> commands against a real node over mTLS.</summary>
public sealed class RequestCommandsTests(RequestsNodeFixture fixture) : IClassFixture<RequestsNodeFixture>
{
    private TestNode Node => fixture.Node;

    [Fact]
    public async Task ApplyThenApprove_ThroughCli_GrantWithCliMasking()
    {
        var (police, provider) = Department(Node);
        var (civil, _) = Department(Node);
        const string code = "301199/000001";
        await CreateEntryAsync(provider, police, code);
        const string openCode = "301199/000002";
        await CreateEntryAsync(provider, police, openCode, ShareType.Unconditional);

        string[] As(TestDepartment d) => ["--node", Node.ExchangeAddress.ToString(), "--cert", d.Files.CertificatePath, "--key", d.Files.KeyPath, "--ca", Path.Combine(Node.Pki.Root, "ca", "root", "ca.crt")];
        string[] apply(string resource) => ["request", "apply", resource, "--item", "full_name", "--item", "birth_date", "--purpose-code", "social-assistance", "--purpose", "低保审核",
            "--legal-basis", "《社会救助暂行办法》", "--from", $"{Today:yyyy-MM-dd}", "--to", $"{Today.AddDays(30):yyyy-MM-dd}", "--contact-name", "张三", "--contact-phone", "0871-63610000"];

        Assert.Equal(ExitCodes.Failed, await GovShareCommand.Create().Parse([.. apply(openCode), .. As(civil)]).InvokeAsync());
        Assert.Equal(ExitCodes.Ok, await GovShareCommand.Create().Parse([.. apply(code), .. As(civil)]).InvokeAsync());
        var request = Assert.Single(Node.Services.GetRequiredService<ShareRequestStore>().List(GovShare.Node.Identity.CallerIdentity.Department(civil.Division, civil.CreditCode), PartyRole.User));

        Assert.Equal(ExitCodes.Usage, await GovShareCommand.Create().Parse(["request", "approve", request.Id, "--item", "full_name:scramble", .. As(police)]).InvokeAsync());
        Assert.Equal(ExitCodes.Ok, await GovShareCommand.Create().Parse(["request", "approve", request.Id, "--item", "full_name:keepEnds,1,0", .. As(police)]).InvokeAsync());
        Assert.Equal(ExitCodes.Failed, await GovShareCommand.Create().Parse(["request", "deny", request.Id, "--reason-code", "late", "--reason", "再次决定", .. As(police)]).InvokeAsync());
        Assert.Equal(ExitCodes.Ok, await GovShareCommand.Create().Parse(["inbox", .. As(civil)]).InvokeAsync());

        var grant = Node.Services.GetRequiredService<GrantStore>().Effective(civil.CreditCode, code, "social-assistance", DateTimeOffset.UtcNow);
        Assert.Equal([new GrantedItem("full_name", MaskingRule.KeepEnds(1, 0))], grant?.Items);
    }

    [Theory]
    [InlineData("citizen_id", MaskingKind.None)]
    [InlineData("citizen_id:redact", MaskingKind.Redact)]
    [InlineData("citizen_id:PSEUDONYM", MaskingKind.Pseudonym)]
    [InlineData("birth_date:date,month", MaskingKind.GeneraliseDate)]
    [InlineData("age:bucket,0,18,60", MaskingKind.Bucket)]
    public void ParseItem_Mask_Parsed(string text, MaskingKind kind) =>
        Assert.Equal(kind, RequestCommands.ParseItem(text).Masking?.Kind ?? MaskingKind.None);

    [Theory]
    [InlineData("x:keepEnds,1")]
    [InlineData("x:bucket")]
    [InlineData("x:shuffle")]
    public void ParseItem_BadMask_FormatException(string text) => Assert.Throws<FormatException>(() => RequestCommands.ParseItem(text));
}
