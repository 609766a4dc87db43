namespace GovShare.Node.Kernel;

/// <summary>
/// GB/T 2260 administrative division codes: six digits, province in the first two
/// (<c>530000</c> Yunnan), prefecture in the next two (<c>530100</c> Kunming).
/// </summary>
public static class DivisionCode
{
    public static bool IsValid(string? code) =>
        code is { Length: 6 } && code.All(char.IsAsciiDigit) && code[..2] != "00";

    /// <summary>True for a province-level code such as <c>530000</c>.</summary>
    public static bool IsProvince(string code) => IsValid(code) && code.EndsWith("0000", StringComparison.Ordinal);

    /// <summary>
    /// True when <paramref name="code"/> lies inside <paramref name="ancestor"/>'s jurisdiction
    /// (a division is inside itself): <c>530102</c> is inside <c>530100</c> and <c>530000</c>.
    /// </summary>
    public static bool IsWithin(string code, string ancestor)
    {
        if (!IsValid(code) || !IsValid(ancestor))
        {
            return false;
        }

        var significant = ancestor.TrimEnd('0').Length;
        // Keep whole two-digit levels: 530100 -> "5301", 530000 -> "53".
        significant = (significant + 1) / 2 * 2;
        return string.CompareOrdinal(code, 0, ancestor, 0, significant) == 0;
    }
}
