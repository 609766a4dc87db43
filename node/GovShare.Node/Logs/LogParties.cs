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
        var via = Vouching.Via(context.User);
        if (via is null)
        {
            return new LogParties(identity?.Uri ?? "anonymous", null, 0);
        }

        return new LogParties(via, identity?.Uri, Vouching.Hop(context));
    }
}
