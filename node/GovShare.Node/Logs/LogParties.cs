using GovShare.Contract;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Logs;

/// <summary>Who a logged step is attributed to (Art. 29: responsibility determinable), read from the request.</summary>
public readonly record struct LogParties(string Caller, string? OnBehalfOf, int Hop)
{
    /// <summary>
    /// The connection's identity is the caller; when a linked node forwarded the request, the
    /// department it vouched for is recorded as on-behalf-of, with the hop it arrived at.
    /// </summary>
    public static LogParties Of(HttpContext context)
    {
        var identity = CallerIdentity.FromPrincipal(context.User);
        var via = OnBehalfOfMiddleware.Via(context.User);
        if (via is null)
        {
            return new LogParties(identity?.Uri ?? "anonymous", null, 0);
        }

        var hop = int.TryParse(context.Request.Headers[GovShareHeaders.Hop].ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var h) ? h : 1;
        return new LogParties(via, identity?.Uri, hop);
    }
}
