using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Identity;

/// <summary>
/// Who an operator action is attributed to (Art. 29: 责任认定, 可追溯): the operator the management
/// listener admitted — a person's <c>govshare:operator/&lt;division&gt;/&lt;id&gt;</c>, or
/// <c>…/bootstrap</c> for the loopback token. Every feature's operator API records this, never a
/// bare "operator".
/// </summary>
public static class OperatorAttribution
{
    /// <summary>The acting operator's identity URI; throws when called outside the operator group.</summary>
    public static string Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return CallerIdentity.FromPrincipal(context.User) is { Kind: CallerKind.Operator } person
            ? person.Uri
            : throw new InvalidOperationException("An operator endpoint ran without an operator identity.");
    }
}
