using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// Routes an exchange for a resource this node does not hold (Art. 19–22): down to the child
/// whose subtree owns it (from the catalog aggregate), else up to the parent, which knows more.
/// A request that came down from the parent is never sent back up, and the hop count is capped,
/// so a request cannot circle.
/// </summary>
public sealed class NodeRouter(NodeLinkRegistry links, CatalogAggregate aggregate, NodeForwarder forwarder, IOptions<NodeOptions> options)
{
    /// <summary>The query parameter naming the owning node, when a resource code is used by two nodes.</summary>
    public const string NodeParameter = "node";

    /// <summary>More hops than a national tree (department node, prefecture, province, nation, and down) ever needs.</summary>
    public const int MaxHops = 8;

    private readonly string _self = options.Value.DivisionCode;

    /// <summary>
    /// Forwards the request if the resource lives elsewhere in the tree and writes the answer;
    /// false when this node should answer itself (the resource is local, or nowhere known).
    /// </summary>
    public async Task<bool> TryForwardAsync(HttpContext context, string resourceCode, bool heldLocally, string exchangeId)
    {
        var owner = QueryValues.Of(context.Request, NodeParameter).ToString();
        if (owner.Length > 0 && !DivisionCode.IsValid(owner))
        {
            await Problem.WriteAsync(context, 400, ProblemTypes.MalformedRequest, "Malformed node", $"'{NodeParameter}' must be a six-digit division code.");
            return true;
        }

        if (heldLocally && (owner.Length == 0 || owner == _self))
        {
            return false;
        }

        var via = Vouching.Via(context.User) is { } uri ? CallerIdentity.TryParse(uri)?.DivisionCode : null;
        var hop = Vouching.Hop(context);
        if (hop >= MaxHops)
        {
            await Problem.WriteAsync(context, 508, ProblemTypes.HopLimit, "Too many hops", $"Exchange {exchangeId} passed {hop} nodes without reaching {resourceCode}.");
            return true;
        }

        var parent = links.Parent();
        var cameFromParent = parent is not null && via == parent.DivisionCode;
        NodeLink? next;
        if (owner.Length > 0)
        {
            next = owner == _self ? null
                : DivisionCode.IsWithin(owner, _self) ? links.ChildHolding(owner)
                : cameFromParent ? null : parent;
        }
        else
        {
            var owners = aggregate.Find(resourceCode).Select(e => e.OwnerNode).Distinct(StringComparer.Ordinal).ToList();
            if (owners.Count > 1)
            {
                await Problem.WriteAsync(context, 409, ProblemTypes.AmbiguousResource, "Several nodes hold this resource code", $"{resourceCode} is held by nodes {string.Join(", ", owners)}; name one with ?{NodeParameter}=<division>.");
                return true;
            }

            next = owners.Count == 1 ? links.ChildHolding(owners[0]) : cameFromParent ? null : parent;
        }

        if (next is null || next.DivisionCode == via)
        {
            return false;
        }

        var department = CallerIdentity.FromPrincipal(context.User)!;
        await forwarder.ForwardAsync(context, next, department, exchangeId, hop);
        return true;
    }
}
