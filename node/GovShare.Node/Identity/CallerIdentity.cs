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

    /// <summary>The principal of this identity, as the certificate handler makes it (its claims made when first read: <see cref="CallerClaimsIdentity"/>).</summary>
    public ClaimsPrincipal ToPrincipal(string authenticationType) =>
        new(new CallerClaimsIdentity(this, authenticationType));

    /// <summary>The claims a principal of this identity carries (<see cref="ToPrincipal"/>), made for <paramref name="subject"/>.</summary>
    internal List<Claim> ClaimsFor(ClaimsIdentity subject)
    {
        var claims = new List<Claim>(6)
        {
            new(ClaimTypes.NameIdentifier, Uri, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject),
            new(ClaimTypes.Name, Uri, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject),
            new(KindClaim, Kind.ToString(), ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject),
            new(DivisionClaim, DivisionCode, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject),
        };
        if (CreditCode is not null)
        {
            claims.Add(new Claim(CreditCodeClaim, CreditCode, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject));
        }

        if (OperatorId is not null)
        {
            claims.Add(new Claim(OperatorIdClaim, OperatorId, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject));
        }

        return claims;
    }

    /// <summary>Whether a principal of this identity carries a claim of <paramref name="type"/> (before any is added to it).</summary>
    internal bool HasClaimOfType(string type) =>
        string.Equals(type, ClaimTypes.NameIdentifier, StringComparison.OrdinalIgnoreCase)
        || string.Equals(type, ClaimTypes.Name, StringComparison.OrdinalIgnoreCase)
        || string.Equals(type, KindClaim, StringComparison.OrdinalIgnoreCase)
        || string.Equals(type, DivisionClaim, StringComparison.OrdinalIgnoreCase)
        || (CreditCode is not null && string.Equals(type, CreditCodeClaim, StringComparison.OrdinalIgnoreCase))
        || (OperatorId is not null && string.Equals(type, OperatorIdClaim, StringComparison.OrdinalIgnoreCase));

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
/// <see cref="CallerIdentity"/> its claims are made from. Its claims are the same as they always were
/// (name identifier, name, kind, division, credit code or operator id), but made only when something
/// reads or changes them: every request on a kept-alive connection gets a fresh clone of the
/// remembered principal (<see cref="ConnectionValidationCache"/>), and the node's own code reads the
/// caller from <see cref="Caller"/> and asks the claims only for <see cref="Vouching.ViaClaim"/>,
/// which a direct caller's identity cannot carry until a claim is added (then the claims are made).
/// </summary>
/// <remarks>
/// Every member of <see cref="ClaimsIdentity"/> that reads or changes claims is overridden here to
/// make them first (once, under a lock: the shared validation cache's principal is cloned by
/// concurrent requests; a clone of an identity whose claims were never made is another such
/// identity and shares nothing mutable with it). The one way around it is the base class's copying
/// constructor <c>new ClaimsIdentity(identity)</c>, which reads its private claim list: a copy made
/// that way of an identity whose claims were never made has no claims, so it reads as no caller at
/// all (<see cref="CallerIdentity.FromPrincipal"/> null: refused, never someone else). Nothing in the
/// node or in ASP.NET's authentication and authorization copies an identity that way (principals are
/// merged by reference, tickets cloned through <see cref="Clone"/>); a test holds both.
/// </remarks>
internal sealed class CallerClaimsIdentity : ClaimsIdentity
{
    private Lock? _gate;
    private volatile bool _made;

    public CallerClaimsIdentity(CallerIdentity caller, string authenticationType)
        : base(authenticationType) => Caller = caller;

    private CallerClaimsIdentity(CallerClaimsIdentity other)
        : base(other.Made()) => Caller = other.Caller;

    private CallerClaimsIdentity(CallerIdentity caller, string? authenticationType, bool made)
        : base(authenticationType)
    {
        Caller = caller;
        _made = made;
    }

    public CallerIdentity Caller { get; }

    /// <summary>Whether the claims were made (a test's view; the claims read the same either way).</summary>
    internal bool ClaimsMade => _made;

    // The certificate handler's validation cache hands out clones of the principal it cached: one per
    // request, so a clone whose claims were never made is made without them.
    // (Label, Actor and BootstrapContext are never set by the node; an identity given any is copied whole.)
    public override ClaimsIdentity Clone() =>
        _made || Label is not null || Actor is not null || BootstrapContext is not null
            ? new CallerClaimsIdentity(this) { _made = true }
            : new CallerClaimsIdentity(Caller, AuthenticationType, made: false);

    public override IEnumerable<Claim> Claims => Made().ClaimsOfBase;

    public override Claim? FindFirst(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        // The hot question (is this a vouched request?) answered without making the claims: before any
        // claim is added, the identity carries exactly the caller's, so a type none of them has is absent.
        return !_made && !Caller.HasClaimOfType(type) ? null : Made().FindFirstOfBase(type);
    }

    public override Claim? FindFirst(Predicate<Claim> match) => Made().FindFirstOfBase(match);

    public override IEnumerable<Claim> FindAll(string type) => Made().FindAllOfBase(type);

    public override IEnumerable<Claim> FindAll(Predicate<Claim> match) => Made().FindAllOfBase(match);

    public override bool HasClaim(string type, string value) => Made().HasClaimOfBase(type, value);

    public override bool HasClaim(Predicate<Claim> match) => Made().HasClaimOfBase(match);

    public override void AddClaim(Claim claim) => Made().AddClaimOfBase(claim);

    public override void AddClaims(IEnumerable<Claim?> claims) => Made().AddClaimsOfBase(claims);

    public override bool TryRemoveClaim(Claim? claim) => Made().TryRemoveClaimOfBase(claim);

    public override void RemoveClaim(Claim? claim) => Made().RemoveClaimOfBase(claim);

    public override void WriteTo(BinaryWriter writer) => Made().WriteToOfBase(writer);

    private CallerClaimsIdentity Made()
    {
        if (_made)
        {
            return this;
        }

        lock (LazyInitializer.EnsureInitialized(ref _gate, static () => new Lock()))
        {
            if (!_made)
            {
                base.AddClaims(Caller.ClaimsFor(this));
                _made = true;
            }
        }

        return this;
    }

    private IEnumerable<Claim> ClaimsOfBase => base.Claims;

    private Claim? FindFirstOfBase(string type) => base.FindFirst(type);

    private Claim? FindFirstOfBase(Predicate<Claim> match) => base.FindFirst(match);

    private IEnumerable<Claim> FindAllOfBase(string type) => base.FindAll(type);

    private IEnumerable<Claim> FindAllOfBase(Predicate<Claim> match) => base.FindAll(match);

    private bool HasClaimOfBase(string type, string value) => base.HasClaim(type, value);

    private bool HasClaimOfBase(Predicate<Claim> match) => base.HasClaim(match);

    private void AddClaimOfBase(Claim claim) => base.AddClaim(claim);

    private void AddClaimsOfBase(IEnumerable<Claim?> claims) => base.AddClaims(claims);

    private bool TryRemoveClaimOfBase(Claim? claim) => base.TryRemoveClaim(claim);

    private void RemoveClaimOfBase(Claim? claim) => base.RemoveClaim(claim);

    private void WriteToOfBase(BinaryWriter writer) => base.WriteTo(writer);
}
