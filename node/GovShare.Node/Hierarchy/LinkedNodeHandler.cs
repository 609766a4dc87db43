using GovShare.Node.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Hierarchy;

/// <summary>The node half of the registered-caller policy: a node is served only if it is linked here.</summary>
internal sealed partial class LinkedNodeHandler(NodeLinkRegistry links, ILogger<LinkedNodeHandler> logger)
    : AuthorizationHandler<RegisteredCallerRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RegisteredCallerRequirement requirement)
    {
        if (CallerIdentity.FromPrincipal(context.User) is not { Kind: CallerKind.Node } caller)
        {
            return Task.CompletedTask;
        }

        if (links.Find(caller.DivisionCode) is not null)
        {
            context.Succeed(requirement);
            return Task.CompletedTask;
        }

        LogNotLinked(logger, caller.Uri);
        context.Fail(new AuthorizationFailureReason(this, $"Node {caller.DivisionCode} is not linked with this node; its operator and this node's must both run 'govshare node link'."));
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 7002, EventName = "NodeNotLinked", Level = LogLevel.Warning, Message = "Refused {Caller}: valid node certificate, but not linked with this node")]
    private static partial void LogNotLinked(ILogger logger, string caller);
}
