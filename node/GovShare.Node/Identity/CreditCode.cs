namespace GovShare.Node.Identity;

/// <summary>
/// The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a
/// 31-symbol alphabet, the last a check character over the first 17.
/// </summary>
public static class CreditCode
{
    private const string Alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    private static readonly int[] Weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

    public static bool IsValid(string? code)
    {
        if (code is not { Length: 18 })
        {
            return false;
        }

        var check = CheckCharacter(code.AsSpan(0, 17));
        return check is not null && check == code[17];
    }

    /// <summary>The check character for a 17-character body; null when the body has a symbol outside the alphabet.</summary>
    public static char? CheckCharacter(ReadOnlySpan<char> body)
    {
        if (body.Length != 17)
        {
            return null;
        }

        var sum = 0;
        for (var i = 0; i < 17; i++)
        {
            var value = Alphabet.IndexOf(body[i], StringComparison.Ordinal);
            if (value < 0)
            {
                return null;
            }

            sum += value * Weights[i];
        }

        var check = 31 - (sum % 31);
        return Alphabet[check == 31 ? 0 : check];
    }

    /// <summary>Completes a 17-character body with its check character.</summary>
    public static string Complete(string body) =>
        body + (CheckCharacter(body) ?? throw new ArgumentException("The body must be 17 characters of the credit-code alphabet.", nameof(body)));
}
