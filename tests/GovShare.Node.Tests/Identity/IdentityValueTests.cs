using GovShare.Node.Identity;
using GovShare.Node.Kernel;

namespace GovShare.Node.Tests.Identity;

public sealed class IdentityValueTests
{
    [Theory]
    [InlineData("91350100M000100Y43", true)] // a well-formed code from GB 32100's examples
    [InlineData("91350100M000100Y42", false)] // wrong check character
    [InlineData("91350100M000100Y4", false)] // too short
    [InlineData("91350100M000100I43", false)] // I is not in the alphabet
    [InlineData("../../../etc/passwd", false)]
    [InlineData("", false)]
    public void CreditCode_IsValid_ChecksLengthAlphabetAndCheckCharacter(string code, bool valid) =>
        Assert.Equal(valid, CreditCode.IsValid(code));

    [Fact]
    public void CreditCode_Complete_ProducesValidCode() =>
        Assert.True(CreditCode.IsValid(CreditCode.Complete("11530100MB0000011")));

    [Theory]
    [InlineData("530102", "530100", true)]
    [InlineData("530102", "530000", true)]
    [InlineData("530100", "530100", true)]
    [InlineData("530302", "530100", false)]
    [InlineData("520100", "530000", false)]
    [InlineData("53010", "530000", false)]
    [InlineData("530000", "000000", true)]
    [InlineData("530102", "000000", true)]
    [InlineData("000000", "530000", false)]
    [InlineData("000000", "000000", true)]
    public void DivisionCode_IsWithin_FollowsTheTwoDigitLevels(string code, string ancestor, bool within) =>
        Assert.Equal(within, DivisionCode.IsWithin(code, ancestor));

    [Theory]
    [InlineData("000000", true, false, false)] // the national node: valid, neither a province nor a county
    [InlineData("001000", false, false, false)] // any other code starting 00 is no division
    [InlineData("530000", true, true, false)]
    [InlineData("530100", true, false, false)]
    [InlineData("530102", true, false, true)] // Wuhua District, a county-level division of Kunming
    [InlineData("532301", true, false, true)] // Chuxiong, a county-level city
    public void DivisionCode_Levels(string code, bool valid, bool province, bool county) =>
        Assert.Equal((valid, province, county), (DivisionCode.IsValid(code), DivisionCode.IsProvince(code), DivisionCode.IsCounty(code)));

    [Fact]
    public void CallerIdentity_TryParse_ReadsTheNationalNode() =>
        Assert.Equal(CallerIdentity.ForNode("000000"), CallerIdentity.TryParse("govshare:node/000000"));

    [Theory]
    [InlineData("govshare:dept/530100/91350100M000100Y43", CallerKind.Department)]
    [InlineData("govshare:node/530100", CallerKind.Node)]
    public void CallerIdentity_TryParse_ReadsBothKinds(string uri, CallerKind kind)
    {
        var identity = CallerIdentity.TryParse(uri);
        Assert.NotNull(identity);
        Assert.Equal(kind, identity.Kind);
        Assert.Equal(uri, identity.Uri);
    }

    [Theory]
    [InlineData("govshare:dept/530100/91350100M000100Y42")]
    [InlineData("govshare:dept/530100")]
    [InlineData("govshare:node/530100/extra")]
    [InlineData("govshare:node/../530100")]
    [InlineData("https://example.org/node/530100")]
    [InlineData("GOVSHARE:node/530100")]
    [InlineData(null)]
    public void CallerIdentity_TryParse_RefusesMalformed(string? uri) => Assert.Null(CallerIdentity.TryParse(uri));
}
