using System.Net.Http.Headers;
using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// The way up for signed documents (<see cref="SignedSubmission"/>): this node signs with its node key and
/// sends over the parent link as itself (its node certificate, the parent's pinned key expected), whatever
/// node the parent is — a province for a prefecture, the national node for the province. The receiving
/// side is <see cref="LinkedChild"/>: only the linked child node itself, never a department it vouches for.
/// </summary>
public sealed class ParentChannel(NodeLinkRegistry links, NodeForwarder forwarder, TrustMaterial trust, IOptions<NodeOptions> node, TimeProvider time)
{
    /// <summary>The parent link, or null at the top of the tree.</summary>
    public NodeLink? Parent => links.Parent();

    /// <summary>Signs <paramref name="payload"/> as a <paramref name="kind"/> document about <paramref name="subject"/>.</summary>
    public SignedSubmission Sign(string kind, string subject, byte[] payload) =>
        SignedSubmission.Sign(kind, node.Value.DivisionCode, subject, payload, trust.NodeCertificate, time.GetUtcNow());

    /// <summary>Sends <paramref name="submission"/> with <paramref name="method"/> to <paramref name="path"/> on <paramref name="parent"/>.</summary>
    public async Task<HttpResponseMessage> SendAsync(NodeLink parent, HttpMethod method, string path, SignedSubmission? submission, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(parent);
        using var request = new HttpRequestMessage(method, new Uri(new Uri(parent.Url), path));
        if (submission is not null)
        {
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(submission, CatalogJson.Options)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
        }

        NodeForwarder.ExpectNode(request, parent);
        return await forwarder.Invoker.SendAsync(request, cancellation);
    }

    /// <summary>
    /// The linked child calling, or null: the caller must be a node (its certificate, its pinned key — the identity
    /// middleware already refused another key), not vouching for a department, and linked here as a child.
    /// </summary>
    public static NodeLink? LinkedChild(HttpContext context, NodeLinkRegistry links)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(links);
        return CallerIdentity.FromPrincipal(context.User) is { Kind: CallerKind.Node } caller && Vouching.Via(context.User) is null
            && links.Find(caller.DivisionCode) is { Role: LinkRole.Child } link
                ? link
                : null;
    }
}
