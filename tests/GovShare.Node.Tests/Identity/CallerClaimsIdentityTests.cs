using System.Security.Claims;
using GovShare.Node.Identity;
using Microsoft.AspNetCore.Authentication;

namespace GovShare.Node.Tests.Identity;

/// <summary>
/// A caller's principal makes its claims only when something reads or changes them: what every
/// reader sees is the same claims as before, a request's clone is its own, and the one copy that
/// cannot be intercepted (the base class's copying constructor) reads as no caller, never another.
/// </summary>
public sealed class CallerClaimsIdentityTests
{
    private static readonly CallerIdentity Department = CallerIdentity.Department("530100", "11530100MB0000011X");

    [Fact]
    public void ToPrincipal_ReadAsBefore_ClaimsMadeOnlyWhenAClaimIsRead()
    {
        var principal = Department.ToPrincipal("Certificate");
        var identity = Assert.IsType<CallerClaimsIdentity>(principal.Identity);

        Assert.True(identity.IsAuthenticated);
        Assert.Same(Department, CallerIdentity.FromPrincipal(principal));
        Assert.Null(Vouching.Via(principal));
        Assert.False(identity.ClaimsMade);
        Assert.Null(principal.FindFirst(c => c.Type == "unrelated"));
        Assert.True(identity.ClaimsMade);

        var fresh = Assert.IsType<CallerClaimsIdentity>(Department.ToPrincipal("Certificate").Identity);
        Assert.Null(fresh.FindFirst(Vouching.ViaClaim));
        Assert.Null(fresh.FindFirst("GOVSHARE:VIA"));
        Assert.False(fresh.ClaimsMade);
        Assert.Equal(Department.Uri, fresh.Name);
        Assert.True(fresh.ClaimsMade);
        Assert.Equal(
            [
                (ClaimTypes.NameIdentifier, Department.Uri),
                (ClaimTypes.Name, Department.Uri),
                ("govshare:kind", "Department"),
                ("govshare:division", "530100"),
                ("govshare:credit-code", "11530100MB0000011X"),
            ],
            fresh.Claims.Select(c => (c.Type, c.Value)));
        Assert.All(fresh.Claims, c =>
        {
            Assert.Same(fresh, c.Subject);
            Assert.Equal(ClaimsIdentity.DefaultIssuer, c.Issuer);
            Assert.Equal(ClaimValueTypes.String, c.ValueType);
        });
    }

    [Fact]
    public void EveryClaimMember_ReadsTheCallersClaims_OnAnIdentityWhoseClaimsWereNotMade()
    {
        ClaimsIdentity Fresh() => (ClaimsIdentity)Department.ToPrincipal("Certificate").Identity!;

        Assert.Equal("530100", Fresh().FindFirst("govshare:division")?.Value);
        Assert.Equal("530100", Fresh().FindFirst("GOVSHARE:DIVISION")?.Value);
        Assert.Equal("Department", Fresh().FindFirst(c => c.Type == "govshare:kind")?.Value);
        Assert.Single(Fresh().FindAll("govshare:credit-code"));
        Assert.Equal(2, Fresh().FindAll(c => c.Value == Department.Uri).Count());
        Assert.True(Fresh().HasClaim("govshare:credit-code", "11530100MB0000011X"));
        Assert.True(Fresh().HasClaim(c => c.Type == ClaimTypes.NameIdentifier));
        Assert.Equal(5, Fresh().Claims.Count());
        Assert.True(new ClaimsPrincipal(Fresh()).HasClaim(ClaimTypes.Name, Department.Uri));

        var removed = Fresh();
        Assert.True(removed.TryRemoveClaim(removed.FindFirst("govshare:kind")));
        Assert.Equal(4, removed.Claims.Count());
        var added = Fresh();
        added.AddClaim(new Claim(Vouching.ViaClaim, "govshare:node/530000"));
        Assert.Equal(6, added.Claims.Count());
        Assert.Equal("govshare:node/530000", added.FindFirst(Vouching.ViaClaim)?.Value);
    }

    [Fact]
    public void Clone_OfAnIdentityWhoseClaimsWereNotMade_IsItsOwn_AndReadsTheSame()
    {
        var original = (CallerClaimsIdentity)Department.ToPrincipal("Certificate").Identity!;
        var clone = Assert.IsType<CallerClaimsIdentity>(original.Clone());
        Assert.False(clone.ClaimsMade);
        Assert.Same(Department, clone.Caller);
        Assert.Equal("Certificate", clone.AuthenticationType);

        clone.AddClaim(new Claim(Vouching.ViaClaim, "govshare:node/530000"));
        Assert.False(original.ClaimsMade);
        Assert.Null(original.FindFirst(Vouching.ViaClaim));
        Assert.Equal(5, original.Claims.Count());
        Assert.Equal(6, clone.Claims.Count());

        // A clone of a made identity copies its claims, whatever was added.
        var again = (ClaimsIdentity)clone.Clone();
        Assert.Equal("govshare:node/530000", again.FindFirst(Vouching.ViaClaim)?.Value);
        Assert.All(again.Claims, c => Assert.Same(again, c.Subject));
    }

    [Fact]
    public void TicketClone_AsTheValidationCachesHandOut_IsAFreshPrincipalOfTheSameCaller()
    {
        var ticket = new AuthenticationTicket(Department.ToPrincipal("Certificate"), "Certificate");
        var clone = ticket.Clone();

        Assert.NotSame(ticket.Principal.Identity, clone.Principal.Identity);
        Assert.Same(Department, CallerIdentity.FromPrincipal(clone.Principal));
        Assert.Equal(Department.Uri, clone.Principal.Identity!.Name);
    }

    [Fact]
    public void Vouched_CarriesItsNode_AndTheDepartmentsClaims()
    {
        var vouched = Vouching.Vouched(Department, "Certificate", "govshare:node/530000");

        Assert.Equal("govshare:node/530000", Vouching.Via(vouched));
        Assert.Same(Department, CallerIdentity.FromPrincipal(vouched));
        Assert.Equal(6, vouched.Claims.Count());
    }

    [Fact]
    public void BaseCopyingConstructor_OfAnIdentityWhoseClaimsWereNotMade_ReadsAsNoCaller_NeverAnother()
    {
        var unmade = (ClaimsIdentity)Department.ToPrincipal("Certificate").Identity!;
        var copy = new ClaimsPrincipal(new ClaimsIdentity(unmade));
        Assert.Null(CallerIdentity.FromPrincipal(copy));
        Assert.Empty(copy.Claims);

        var made = (ClaimsIdentity)Department.ToPrincipal("Certificate").Identity!;
        _ = made.Name;
        Assert.Equal(Department, CallerIdentity.FromPrincipal(new ClaimsPrincipal(new ClaimsIdentity(made))));
    }
}
