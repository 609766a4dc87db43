using System.Globalization;
using System.Security.Claims;
using GovShare.Contract;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Identity;

/// <summary>
/// A department's identity vouched for by a linked node: when a node forwards a request, the
/// receiving node acts for the department named in <see cref="GovShareHeaders.OnBehalfOf"/> and
/// remembers, as the <see cref="ViaClaim"/> claim, which node vouched for it. Who may vouch for
/// whom is the hierarchy's decision; what a vouched identity is, and how every feature reads it,
/// is identity's.
/// </summary>
public static class Vouching
{
    /// <summary>Claim on a forwarded principal: the node that vouched for the department.</summary>
    public const string ViaClaim = "govshare:via";

    /// <summary>The department's principal, marked as vouched for by <paramref name="node"/>.</summary>
    public static ClaimsPrincipal Vouched(CallerIdentity department, string authenticationType, string node)
    {
        ArgumentNullException.ThrowIfNull(department);
        var principal = department.ToPrincipal(authenticationType);
        ((ClaimsIdentity)principal.Identity!).AddClaim(new Claim(ViaClaim, node));
        return principal;
    }

    /// <summary>The node that forwarded this request, or null when the caller connected directly.</summary>
    public static string? Via(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.FindFirst(ViaClaim)?.Value;
    }

    /// <summary>
    /// How many nodes a vouched request has passed (its <see cref="GovShareHeaders.Hop"/>; 1 when
    /// the header is unreadable); 0 for a direct caller, who may not send the header at all.
    /// </summary>
    public static int Hop(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Via(context.User) is null)
        {
            return 0;
        }

        return int.TryParse(context.Request.Headers[GovShareHeaders.Hop].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var hop) ? hop : 1;
    }
}
