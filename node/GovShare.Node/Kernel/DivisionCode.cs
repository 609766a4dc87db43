namespace GovShare.Node.Kernel;

/// <summary>
/// GB/T 2260 administrative division codes: six digits, province in the first two
/// (<c>530000</c> Yunnan), prefecture in the next two (<c>530100</c> Kunming), county in the last
/// two (<c>530102</c> Wuhua District). GB/T 2260 gives the nation no code; GovShare names the
/// national node <see cref="National"/> (<c>000000</c>), all levels zero, so that every division lies
/// inside it and no real province (<c>11</c>–<c>82</c>) can collide with it.
/// </summary>
public static class DivisionCode
{
    /// <summary>The national node's division (Art. 21: the provincial platform links to the national one).</summary>
    public const string National = "000000";

    /// <summary>Six ASCII digits naming a province, prefecture or county, or <see cref="National"/>; any other code starting <c>00</c> is refused.</summary>
    public static bool IsValid(string? code) =>
        code is { Length: 6 } && code.All(char.IsAsciiDigit) && (code[..2] != "00" || code == National);

    /// <summary>True for <see cref="National"/>.</summary>
    public static bool IsNational(string? code) => code == National;

    /// <summary>True for a province-level code such as <c>530000</c> (never <see cref="National"/>).</summary>
    public static bool IsProvince(string code) => IsValid(code) && !IsNational(code) && code.EndsWith("0000", StringComparison.Ordinal);

    /// <summary>
    /// True for a county-level code (districts, counties, county-level cities: the last two digits are
    /// not <c>00</c>), e.g. <c>530102</c>. Counties build no platform of their own (Art. 21): their
    /// departments use their prefecture's node.
    /// </summary>
    public static bool IsCounty(string code) => IsValid(code) && !code.EndsWith("00", StringComparison.Ordinal);

    /// <summary>The province holding <paramref name="code"/> (<c>530102</c> → <c>530000</c>); <see cref="National"/> for itself.</summary>
    public static string ProvinceOf(string code) => IsNational(code) ? National : string.Concat(code.AsSpan(0, 2), "0000");

    /// <summary>The prefecture holding a county (<c>530102</c> → <c>530100</c>).</summary>
    public static string PrefectureOf(string code) => code[..4] + "00";

    /// <summary>
    /// True when <paramref name="code"/> lies inside <paramref name="ancestor"/>'s jurisdiction
    /// (a division is inside itself): <c>530102</c> is inside <c>530100</c> and <c>530000</c>, and
    /// every division is inside <see cref="National"/>.
    /// </summary>
    public static bool IsWithin(string code, string ancestor)
    {
        if (!IsValid(code) || !IsValid(ancestor))
        {
            return false;
        }

        var significant = ancestor.AsSpan().TrimEnd('0').Length;
        // Keep whole two-digit levels: 530100 -> "5301", 530000 -> "53", 000000 -> "".
        significant = (significant + 1) / 2 * 2;
        return string.CompareOrdinal(code, 0, ancestor, 0, significant) == 0;
    }
}
