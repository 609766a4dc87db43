using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

/// <summary>
/// The decimal128 appender writes Arrow's bytes itself (Arrow's builder takes a BigInteger per
/// value): every value must come out exactly as Arrow's own builder writes it.
/// </summary>
public sealed class DecimalAppenderTests
{
    [Theory]
    [InlineData(5, 2)]
    [InlineData(18, 2)]
    [InlineData(18, 0)]
    [InlineData(28, 10)]
    [InlineData(38, 10)]
    [InlineData(38, 0)]
    [InlineData(38, 37)]
    public void AppendDecimal_AnyValueTheItemHolds_WritesTheBytesArrowsBuilderWrites(int precision, int scale)
    {
        var random = new Random(precision * 100 + scale);
        var values = new List<decimal?> { 0m, -0m, 1m, -1m, null, 0.000m };
        if (scale > 0)
        {
            values.AddRange([0.5m, -0.5m]);
        }

        for (var i = 0; i < 5000; i++)
        {
            // Any number of integer digits the item holds (up to the 28 of a decimal), any number of places up to its scale.
            var integerDigits = random.Next(0, Math.Min(precision - scale, 28) + 1);
            var places = random.Next(0, Math.Min(scale, 28 - integerDigits) + 1);
            var digits = new string([.. Enumerable.Range(0, Math.Max(1, integerDigits + places)).Select(_ => (char)('0' + random.Next(10)))]);
            var text = places == 0 ? digits : digits[..^places] + "." + digits[^places..];
            var value = decimal.Parse(random.Next(2) == 0 ? text : "-" + text, System.Globalization.CultureInfo.InvariantCulture);
            if (precision - scale > 28 || Math.Abs(value) < Pow10(precision - scale))
            {
                values.Add(random.Next(50) == 0 ? null : value);
            }
        }

        values.Add(Pow10(Math.Min(precision - scale, 28)) - Pow10(-Math.Min(scale, 28 - Math.Min(precision - scale, 28))));

        var appender = ColumnAppender.For(ItemDataType.Decimal(precision, scale), TimeSpan.Zero);
        var expected = new Decimal128Array.Builder(new Decimal128Type(precision, scale));
        foreach (var value in values)
        {
            Assert.Null(value is { } v ? appender.AppendDecimal(v) : appender.AppendValue(null));
            // Arrow's builder refuses a scale above the type's (0.000 for scale 0); the appender takes it at the item's scale.
            _ = value is { } w ? expected.Append(decimal.Round(w, Math.Min(scale, 28))) : expected.AppendNull();
        }

        var ours = (Decimal128Array)appender.Build();
        var theirs = expected.Build();
        Assert.Equal(theirs.Length, ours.Length);
        Assert.Equal(theirs.NullCount, ours.NullCount);
        for (var i = 0; i < ours.Length; i++)
        {
            Assert.Equal(theirs.IsNull(i), ours.IsNull(i));
            if (!ours.IsNull(i))
            {
                Assert.True(theirs.GetBytes(i).SequenceEqual(ours.GetBytes(i)), $"{values[i]} at decimal128({precision},{scale})");
                Assert.Equal(values[i], ours.GetValue(i)); // decimal equality: 0.000 == 0
            }
        }

        // The appender starts again after Build: the next batch holds only its own values.
        Assert.Null(appender.AppendDecimal(1m));
        var next = (Decimal128Array)appender.Build();
        Assert.Equal(1, next.Length);
        Assert.Equal(1m, next.GetValue(0));
    }

    [Theory]
    [InlineData(5, 2)]
    [InlineData(18, 2)]
    [InlineData(18, 0)]
    [InlineData(19, 4)]
    [InlineData(20, 2)]
    [InlineData(38, 10)]
    [InlineData(38, 37)]
    public void AppendDecimal_MagnitudeAndScale_SameBytesAndSameRefusalsAsTheDecimal(int precision, int scale)
    {
        // The PostgreSQL reader hands a numeric of up to 19 digits over as magnitude, scale and sign.
        // Whatever they are — places to drop or to add, too many digits, zero with a sign — the
        // result must be the decimal's: the same bytes, or the same refusal.
        var random = new Random((precision * 100) + scale);
        var cases = new List<(ulong Magnitude, int Scale, bool Negative)> { (0, 0, false), (0, 2, true), (ulong.MaxValue, 0, false), (ulong.MaxValue, 28, true), (9_999_999_999_999_999_999, 19, false) };
        for (var i = 0; i < 5000; i++)
        {
            var digits = random.Next(0, 20);
            var magnitude = (ulong)(random.NextDouble() * Math.Pow(10, digits));
            var trailingZeros = random.Next(0, 4);
            for (var z = 0; z < trailingZeros && magnitude < ulong.MaxValue / 10; z++)
            {
                magnitude *= 10;
            }

            cases.Add((magnitude, random.Next(0, 29), random.Next(2) == 0));
        }

        var byDecimal = ColumnAppender.For(ItemDataType.Decimal(precision, scale), TimeSpan.Zero);
        var byMagnitude = ColumnAppender.For(ItemDataType.Decimal(precision, scale), TimeSpan.Zero);
        foreach (var (magnitude, valueScale, negative) in cases)
        {
            var value = ColumnAppender.ToDecimal(magnitude, valueScale, negative);
            Assert.Equal(byDecimal.AppendDecimal(value), byMagnitude.AppendDecimal(magnitude, valueScale, negative));
        }

        var expected = (Decimal128Array)byDecimal.Build();
        var actual = (Decimal128Array)byMagnitude.Build();
        Assert.Equal(cases.Count, actual.Length);
        Assert.Equal(expected.NullCount, actual.NullCount);
        Assert.InRange(actual.NullCount, 1, cases.Count - 1); // both kinds of case were there
        for (var i = 0; i < actual.Length; i++)
        {
            Assert.Equal(expected.IsNull(i), actual.IsNull(i));
            Assert.True(expected.GetBytes(i).SequenceEqual(actual.GetBytes(i)), $"{cases[i]} at decimal128({precision},{scale})");
        }
    }

    private static decimal Pow10(int exponent) => exponent >= 0
        ? Enumerable.Repeat(10m, exponent).Aggregate(1m, (a, b) => a * b)
        : Enumerable.Repeat(0.1m, -exponent).Aggregate(1m, (a, b) => a * b);
}
