using System.Security.Claims;

namespace GovShare.Node.Identity;

/// <summary>What kind of party holds a certificate.</summary>
public enum CallerKind
{
    /// <summary>A government department or public body (政务部门).</summary>
    Department,

    /// <summary>Another GovShare node (共享平台) of the hierarchy.</summary>
    Node,

    /// <summary>A person of a node's operating unit, on the management listener only.</summary>
    Operator,
}

/// <summary>
/// Who is calling, as read from the SAN URI of a validated client certificate:
/// <c>govshare:dept/&lt;division&gt;/&lt;credit-code&gt;</c>, <c>govshare:node/&lt;division&gt;</c> or
/// <c>govshare:operator/&lt;division&gt;/&lt;id&gt;</c>.
/// </summary>
public sealed record CallerIdentity(CallerKind Kind, string DivisionCode, string? CreditCode, string? OperatorId = null)
{
    /// <summary>The URI scheme of every GovShare identity.</summary>
    public const string Scheme = "govshare";

    internal const string KindClaim = "govshare:kind";
    internal const string DivisionClaim = "govshare:division";
    internal const string CreditCodeClaim = "govshare:credit-code";
    internal const string OperatorIdClaim = "govshare:operator-id";

    /// <summary>The identity as its SAN URI, e.g. <c>govshare:dept/530100/11530100MB0000001X</c>.</summary>
    /// <remarks>Made once per identity (read for the record, the logs and checks on every request).</remarks>
    public string Uri => _uri ??= FormatUri();

    private string? _uri;

    private string FormatUri() => Kind switch
    {
        CallerKind.Department => $"{Scheme}:dept/{DivisionCode}/{CreditCode}",
        CallerKind.Operator => $"{Scheme}:operator/{DivisionCode}/{OperatorId}",
        _ => $"{Scheme}:node/{DivisionCode}",
    };

    /// <summary>A copy (<c>with</c>) formats its own URI: the components may differ.</summary>
    private CallerIdentity(CallerIdentity original)
    {
        Kind = original.Kind;
        DivisionCode = original.DivisionCode;
        CreditCode = original.CreditCode;
        OperatorId = original.OperatorId;
    }

    /// <summary>The identity's four components; the remembered URI is derived from them.</summary>
    public bool Equals(CallerIdentity? other) =>
        other is not null && Kind == other.Kind && DivisionCode == other.DivisionCode && CreditCode == other.CreditCode && OperatorId == other.OperatorId;

    public override int GetHashCode() => HashCode.Combine(Kind, DivisionCode, CreditCode, OperatorId);

    public static CallerIdentity Department(string divisionCode, string creditCode) =>
        new(CallerKind.Department, divisionCode, creditCode);

    public static CallerIdentity ForNode(string divisionCode) => new(CallerKind.Node, divisionCode, null);

    public static CallerIdentity Operator(string divisionCode, string operatorId) => new(CallerKind.Operator, divisionCode, null, operatorId);

    /// <summary>An operator id: 1-64 of <c>a-z 0-9 . _ -</c>, e.g. the person's staff number or login.</summary>
    public static bool IsOperatorId(string? id) =>
        id is { Length: > 0 and <= 64 } && id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-');

    /// <summary>Parses a SAN URI; null when it is not a well-formed GovShare identity.</summary>
    public static CallerIdentity? TryParse(string? uri)
    {
        if (uri is null || !uri.StartsWith(Scheme + ":", StringComparison.Ordinal))
        {
            return null;
        }

        var parts = uri[(Scheme.Length + 1)..].Split('/');
        return parts switch
        {
            ["dept", var division, var code] when Kernel.DivisionCode.IsValid(division) && Identity.CreditCode.IsValid(code)
                => Department(division, code),
            ["node", var division] when Kernel.DivisionCode.IsValid(division) => ForNode(division),
            ["operator", var division, var id] when Kernel.DivisionCode.IsValid(division) && IsOperatorId(id) => Operator(division, id),
            _ => null,
        };
    }

    public ClaimsPrincipal ToPrincipal(string authenticationType)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, Uri),
            new(ClaimTypes.Name, Uri),
            new(KindClaim, Kind.ToString()),
            new(DivisionClaim, DivisionCode),
        };
        if (CreditCode is not null)
        {
            claims.Add(new Claim(CreditCodeClaim, CreditCode));
        }

        if (OperatorId is not null)
        {
            claims.Add(new Claim(OperatorIdClaim, OperatorId));
        }

        return new ClaimsPrincipal(new CallerClaimsIdentity(this, claims, authenticationType));
    }

    /// <summary>Reads the identity back from a principal built by <see cref="ToPrincipal"/>.</summary>
    public static CallerIdentity? FromPrincipal(ClaimsPrincipal? principal)
    {
        if (principal?.Identity?.IsAuthenticated != true)
        {
            return null;
        }

        // A principal this class built carries its identity: read five times per exchange
        // (revocation re-check, hop check, registration, routing, the endpoint), parsed once.
        if (principal.Identity is CallerClaimsIdentity { Caller: var known })
        {
            return known;
        }

        var kind = principal.FindFirst(KindClaim)?.Value;
        var division = principal.FindFirst(DivisionClaim)?.Value;
        if (division is null || !Enum.TryParse<CallerKind>(kind, out var parsed))
        {
            return null;
        }

        return new CallerIdentity(parsed, division, principal.FindFirst(CreditCodeClaim)?.Value, principal.FindFirst(OperatorIdClaim)?.Value);
    }
}

/// <summary>
/// The claims identity of a principal built by <see cref="CallerIdentity.ToPrincipal"/>, holding the
/// <see cref="CallerIdentity"/> its claims were made from. The claims stay the same, so whatever
/// reads them (authorization policies, the vouching claim) sees what it always saw.
/// </summary>
internal sealed class CallerClaimsIdentity : ClaimsIdentity
{
    public CallerClaimsIdentity(CallerIdentity caller, IEnumerable<Claim> claims, string authenticationType)
        : base(claims, authenticationType) => Caller = caller;

    private CallerClaimsIdentity(CallerClaimsIdentity other)
        : base(other) => Caller = other.Caller;

    public CallerIdentity Caller { get; }

    // The certificate handler's validation cache hands out clones of the principal it cached.
    public override ClaimsIdentity Clone() => new CallerClaimsIdentity(this);
}
