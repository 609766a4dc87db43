using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// The property behind issue 16: for random catalog entries (every item type, nullability,
/// lengths, masks) and random valid data with its edge values, what a push accepts every pull
/// delivers. The owner's Arrow pull equals what was pushed value for value, JSON and CSV render
/// every value, and a user's pull follows each item's masking rule. Seeded; the seed is printed.
/// </summary>
public sealed class PushPullPropertyTests(ITestOutputHelper output) : IAsyncLifetime
{
    // A different run: GOVSHARE_PROPERTY_SEED=7 GOVSHARE_PROPERTY_CASES=200 dotnet test --filter PushPullProperty
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("GOVSHARE_PROPERTY_SEED"), out var s) ? s : 20261204;
    private static readonly int Cases = int.TryParse(Environment.GetEnvironmentVariable("GOVSHARE_PROPERTY_CASES"), out var n) ? n : 25;

    private ExchangeFixture _f = null!;

    public async Task InitializeAsync() => _f = await ExchangeFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    [Fact]
    public async Task PushThenPull_RandomEntriesAndEdgeValues_EveryAcceptedValueComesBackInEveryFormatAndMaskedByItsRule()
    {
        output.WriteLine($"seed {Seed}, {Cases} cases (GOVSHARE_PROPERTY_SEED, GOVSHARE_PROPERTY_CASES)");
        var random = new Random(Seed);
        var catalog = _f.Node.Services.GetRequiredService<CatalogStore>();
        using var owner = _f.Node.Client(_f.Provider.Certificate);
        using var user = _f.Node.Client(_f.User.Certificate);
        long values = 0;
        for (var c = 0; c < Cases; c++)
        {
            var code = FormattableString.Invariant($"101004/{c + 1:D6}");
            var items = RandomItems(random);
            var entry = ExchangeFixture.Entry(code, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with { Items = items };
            var created = catalog.Create(entry, Caller(_f.Provider));
            Assert.True(created.Succeeded, $"case {c}: " + string.Join(" ", (created.Errors ?? []).Select(e => e.Message)));
            var batches = RandomBatches(random, items);
            var pushed = batches.SelectMany(b => b).ToList();
            var context = $"seed {Seed}, case {c} ({string.Join(", ", items.Select(Describe))}), {batches.Count} batches of {string.Join("/", batches.Select(b => b.Count))} rows";

            using var push = await owner.PostAsync(DataPath(code), ArrowContent(await StreamAsync(batches.Select(b => Build(items, b)))));
            Assert.True(push.StatusCode == HttpStatusCode.OK, $"{context}: push answered {(int)push.StatusCode} {await push.Content.ReadAsStringAsync()}");

            // The owner: Arrow equals what was pushed, bit for bit where it matters (NaN, -0).
            var (_, pulled) = await ReadAsync(await owner.SendAsync(Pull(code, "property")));
            Assert.Equal(pushed.Count, pulled.Sum(b => b.Length));
            AssertSameValues(items, pushed, pulled, context);

            // JSON renders every value, each as its type's text form.
            using var json = await owner.SendAsync(Pull(code, "property", accept: "application/json"));
            Assert.True(json.StatusCode == HttpStatusCode.OK, context);
            var jsonRows = JsonDocument.Parse(await json.Content.ReadAsStringAsync()).RootElement.EnumerateArray().ToList();
            Assert.Equal(pushed.Count, jsonRows.Count);
            for (var r = 0; r < pushed.Count; r++)
            {
                for (var i = 0; i < items.Count; i++)
                {
                    AssertJsonRendering(items[i], pushed[r][i], jsonRows[r].GetProperty(items[i].Name), $"{context}, row {r}, item {items[i].Id}");
                }
            }

            // CSV renders every row and cell.
            using var csv = await owner.SendAsync(Pull(code, "property", accept: "text/csv"));
            Assert.True(csv.StatusCode == HttpStatusCode.OK, context);
            var csvRows = ParseCsv(await csv.Content.ReadAsStringAsync());
            Assert.Equal(pushed.Count + 1, csvRows.Count);
            Assert.All(csvRows, row => Assert.Equal(items.Count, row.Count));

            // A user of the unconditional resource: each item masked by its default rule, in every format.
            var (_, masked) = await ReadAsync(await user.SendAsync(Pull(code, "property")));
            AssertMasked(items, pushed, masked, context);
            foreach (var accept in new[] { "application/json", "text/csv" })
            {
                using var text = await user.SendAsync(Pull(code, "property", accept: accept));
                Assert.True(text.StatusCode == HttpStatusCode.OK, context);
                var body = await text.Content.ReadAsStringAsync();
                Assert.Equal(pushed.Count + (accept == "text/csv" ? 1 : 0), accept == "text/csv" ? ParseCsv(body).Count : JsonDocument.Parse(body).RootElement.GetArrayLength());
            }

            values += (long)pushed.Count * items.Count;
        }

        output.WriteLine($"{Cases} entries, {values} values pushed and pulled back in Arrow, JSON and CSV as owner and masked user");
    }

    private static string Describe(InformationItem item) =>
        $"{item.DataType}{(item.Length is { } l ? $"[{l}]" : "")}{(item.Nullable ? "?" : "")}{(item.Masking is { Kind: not MaskingKind.None } m ? " " + m.Kind : "")}";

    // ---- Generation ----

    private static readonly string[] Kinds = ["utf8", "int32", "int64", "float64", "boolean", "date32", "timestamp", "decimal", "binary"];

    private static List<InformationItem> RandomItems(Random random)
    {
        // Every kind once per entry, in a random order, plus up to three more of any kind.
        var kinds = Kinds.OrderBy(_ => random.Next()).Concat(Enumerable.Range(0, random.Next(4)).Select(_ => Kinds[random.Next(Kinds.Length)])).ToList();
        var items = new List<InformationItem>();
        for (var i = 0; i < kinds.Count; i++)
        {
            var type = kinds[i] == "decimal" ? RandomDecimal(random) : kinds[i];
            int? length = type is "utf8" or "binary" && random.Next(4) > 0 ? (random.Next(3) == 0 ? 1 : random.Next(1, 40)) : null;
            var masking = RandomRule(random, ItemDataType.Parse(type));
            items.Add(new InformationItem($"c{i}", $"列{i}", type, length, Nullable: random.Next(3) > 0, Masking: masking));
        }

        return items;
    }

    private static string RandomDecimal(Random random)
    {
        var precision = random.Next(4) == 0 ? 38 : random.Next(1, 39);
        return FormattableString.Invariant($"decimal128({precision},{random.Next(0, precision + 1)})");
    }

    private static MaskingRule? RandomRule(Random random, ItemDataType type)
    {
        MaskingRule[] fitting = type.Kind switch
        {
            ItemTypeKind.Utf8 => [MaskingRule.KeepEnds(random.Next(4), random.Next(4)), MaskingRule.Pseudonym, MaskingRule.Redact],
            ItemTypeKind.Int32 or ItemTypeKind.Int64 => [MaskingRule.KeepEnds(random.Next(4), random.Next(4)), MaskingRule.Pseudonym, Buckets(random), MaskingRule.Redact],
            ItemTypeKind.Float64 => [Buckets(random), MaskingRule.Redact],
            ItemTypeKind.Date32 or ItemTypeKind.Timestamp => [MaskingRule.GeneraliseDate(random.Next(2) == 0 ? DatePrecision.Year : DatePrecision.Month), MaskingRule.Redact],
            ItemTypeKind.Binary => [MaskingRule.Pseudonym, MaskingRule.Redact],
            _ => [MaskingRule.Redact],
        };
        return random.Next(4) == 0 ? null : fitting[random.Next(fitting.Length)];
    }

    private static MaskingRule Buckets(Random random)
    {
        var boundaries = new double[random.Next(1, 4)];
        boundaries[0] = random.Next(-1000, 1000);
        for (var k = 1; k < boundaries.Length; k++)
        {
            boundaries[k] = boundaries[k - 1] + random.Next(1, 500) + 0.5;
        }

        return MaskingRule.Bucket(boundaries);
    }

    private static List<List<object?[]>> RandomBatches(Random random, List<InformationItem> items)
    {
        var batches = new List<List<object?[]>>();
        var count = random.Next(1, 5);
        for (var b = 0; b < count; b++)
        {
            // Empty batches are valid Arrow and must survive the trip.
            var rows = random.Next(5) == 0 ? 0 : random.Next(1, 40);
            batches.Add([.. Enumerable.Range(0, rows).Select(_ => items.Select(i => RandomValue(random, i)).ToArray())]);
        }

        return batches;
    }

    private const string Alphabet = "aZ9 ,\"\r\n=+-@\t'云南昆明张三李四é😀𠮷";

    private static object? RandomValue(Random random, InformationItem item)
    {
        if (item.Nullable && random.Next(7) == 0)
        {
            return null;
        }

        var type = ItemDataType.Parse(item.DataType);
        var edge = random.Next(3) == 0;
        switch (type.Kind)
        {
            case ItemTypeKind.Utf8:
                {
                    var max = item.Length ?? 60;
                    var chars = edge ? (random.Next(2) == 0 ? 0 : max) : random.Next(0, max + 1);
                    var text = new StringBuilder();
                    var runes = Alphabet.EnumerateRunes().ToArray();
                    for (var k = 0; k < chars; k++)
                    {
                        text.Append(runes[random.Next(runes.Length)].ToString());
                    }

                    return text.ToString();
                }

            case ItemTypeKind.Binary:
                {
                    var max = item.Length ?? 60;
                    var bytes = new byte[edge ? (random.Next(2) == 0 ? 0 : max) : random.Next(0, max + 1)];
                    random.NextBytes(bytes);
                    return bytes;
                }

            case ItemTypeKind.Int32:
                return edge ? Pick(random, int.MinValue, int.MaxValue, 0, -1) : random.Next(int.MinValue, int.MaxValue);
            case ItemTypeKind.Int64:
                return edge ? Pick(random, long.MinValue, long.MaxValue, 0L, -1L) : random.NextInt64(long.MinValue, long.MaxValue);
            case ItemTypeKind.Float64:
                return edge
                    ? Pick(random, double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, 0.0, double.MaxValue, double.MinValue, double.Epsilon)
                    : (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-20, 20));
            case ItemTypeKind.Boolean:
                return random.Next(2) == 0;
            case ItemTypeKind.Date32:
                return edge ? Pick(random, MinDay, MaxDay, 0, -1) : random.Next(MinDay, MaxDay + 1);
            case ItemTypeKind.Timestamp:
                return edge ? Pick(random, MinMicros, MaxMicros, 0L, -1L) : random.NextInt64(MinMicros, MaxMicros + 1);
            default:
                {
                    var limit = BigInteger.Pow(10, type.Precision) - 1;
                    BigInteger value = edge
                        ? Pick(random, limit, -limit, BigInteger.Zero, BigInteger.One, BigInteger.MinusOne)
                        : new BigInteger(random.NextDouble() * 2 - 1) + (BigInteger)((random.NextDouble() * 2 - 1) * (double)limit);
                    return (Int128)BigInteger.Max(-limit, BigInteger.Min(limit, value));
                }
        }
    }

    private static T Pick<T>(Random random, params T[] values) => values[random.Next(values.Length)];

    private static readonly int MinDay = DateOnly.MinValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
    private static readonly int MaxDay = DateOnly.MaxValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
    private static readonly long MinMicros = (DateTimeOffset.MinValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
    private static readonly long MaxMicros = (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    /// <summary>A record batch of the items' push schema (item names as column names) from generated rows.</summary>
    internal static RecordBatch Build(IReadOnlyList<InformationItem> items, IReadOnlyList<object?[]> rows)
    {
        var columns = new IArrowArray[items.Count];
        var fields = new List<Field>();
        for (var i = 0; i < items.Count; i++)
        {
            var type = ItemDataType.Parse(items[i].DataType);
            fields.Add(type.ToField(items[i].Name));
            var values = rows.Select(r => r[i]).ToList();
            columns[i] = type.Kind switch
            {
                ItemTypeKind.Utf8 => values.Aggregate(new StringArray.Builder(), (b, v) => v is null ? b.AppendNull() : b.Append((string)v)).Build(),
                ItemTypeKind.Binary => values.Aggregate(new BinaryArray.Builder(), (b, v) => v is null ? b.AppendNull() : b.Append(((byte[])v).AsSpan())).Build(),
                ItemTypeKind.Boolean => values.Aggregate(new BooleanArray.Builder(), (b, v) => v is null ? b.AppendNull() : b.Append((bool)v)).Build(),
                ItemTypeKind.Int32 => PushValueRulesTests.Fixed(Int32Type.Default, values.Select(v => (int?)v).ToList(), 4, (span, v) => BinaryPrimitives.WriteInt32LittleEndian(span, v)),
                ItemTypeKind.Date32 => PushValueRulesTests.Fixed(Date32Type.Default, values.Select(v => (int?)v).ToList(), 4, (span, v) => BinaryPrimitives.WriteInt32LittleEndian(span, v)),
                ItemTypeKind.Int64 => PushValueRulesTests.Fixed(Int64Type.Default, values.Select(v => (long?)v).ToList(), 8, (span, v) => BinaryPrimitives.WriteInt64LittleEndian(span, v)),
                ItemTypeKind.Timestamp => PushValueRulesTests.Fixed(type.ToArrowType(), values.Select(v => (long?)v).ToList(), 8, (span, v) => BinaryPrimitives.WriteInt64LittleEndian(span, v)),
                ItemTypeKind.Float64 => PushValueRulesTests.Fixed(DoubleType.Default, values.Select(v => (double?)v).ToList(), 8, (span, v) => BinaryPrimitives.WriteDoubleLittleEndian(span, v)),
                _ => PushValueRulesTests.Fixed(type.ToArrowType(), values.Select(v => (Int128?)v).ToList(), 16, (span, v) => BinaryPrimitives.WriteInt128LittleEndian(span, v)),
            };
        }

        return new RecordBatch(new Schema(fields, null), columns, rows.Count);
    }

    // ---- Oracles ----

    /// <summary>The value of a pulled cell in the generator's terms (days, microseconds, unscaled decimals, raw bytes).</summary>
    private static object? Read(IArrowArray column, int row)
    {
        if (column.IsNull(row))
        {
            return null;
        }

        return column switch
        {
            StringArray a => a.GetString(row),
            BinaryArray a => a.GetBytes(row).ToArray(),
            Int32Array a => a.GetValue(row),
            Int64Array a => a.GetValue(row),
            DoubleArray a => a.GetValue(row),
            BooleanArray a => a.GetValue(row),
            Date32Array a => a.GetValue(row),
            TimestampArray a => a.GetValue(row),
            Decimal128Array a => BinaryPrimitives.ReadInt128LittleEndian(a.GetBytes(row)),
            _ => throw new InvalidOperationException(column.GetType().Name),
        };
    }

    private static bool SameValue(object? expected, object? actual) => (expected, actual) switch
    {
        (null, null) => true,
        (byte[] e, byte[] a) => e.AsSpan().SequenceEqual(a),
        (double e, double a) => BitConverter.DoubleToInt64Bits(e) == BitConverter.DoubleToInt64Bits(a),
        _ => Equals(expected, actual),
    };

    private static void AssertSameValues(List<InformationItem> items, List<object?[]> pushed, List<RecordBatch> pulled, string context)
    {
        var r = 0;
        foreach (var batch in pulled)
        {
            for (var row = 0; row < batch.Length; row++, r++)
            {
                for (var i = 0; i < items.Count; i++)
                {
                    var actual = Read(batch.Column(i), row);
                    Assert.True(SameValue(pushed[r][i], actual), $"{context}, row {r}, item {items[i].Id}: pushed {Show(pushed[r][i])}, pulled {Show(actual)}");
                }
            }
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        byte[] b => Convert.ToHexString(b),
        double d => d.ToString("R", CultureInfo.InvariantCulture) + $" (bits {BitConverter.DoubleToInt64Bits(d):X})",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private static void AssertJsonRendering(InformationItem item, object? value, JsonElement cell, string context)
    {
        if (value is null)
        {
            Assert.True(cell.ValueKind == JsonValueKind.Null, context);
            return;
        }

        var type = ItemDataType.Parse(item.DataType);
        switch (value)
        {
            case string s:
                Assert.Equal(s, cell.GetString());
                break;
            case byte[] b:
                Assert.Equal(Convert.ToBase64String(b), cell.GetString());
                break;
            case bool b:
                Assert.Equal(b, cell.GetBoolean());
                break;
            case int v when type.Kind == ItemTypeKind.Date32:
                Assert.Equal(DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + v).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), cell.GetString());
                break;
            case int v:
                Assert.Equal(v, cell.GetInt32());
                break;
            case long v when type.Kind == ItemTypeKind.Timestamp:
                Assert.True(DateTimeOffset.UnixEpoch.AddTicks(v * 10) == DateTimeOffset.Parse(cell.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind), context);
                break;
            case long v:
                Assert.Equal(v, cell.GetInt64());
                break;
            case double d when double.IsFinite(d):
                Assert.True(d == cell.GetDouble(), $"{context}: {Show(d)} rendered {cell.GetRawText()}");
                break;
            case double d:
                Assert.Equal(d.ToString(CultureInfo.InvariantCulture), cell.GetString());
                break;
            case Int128 unscaled:
                Assert.True(Unscaled(cell.GetString()!, type.Scale) == (BigInteger)unscaled, $"{context}: {unscaled} (scale {type.Scale}) rendered {cell.GetRawText()}");
                break;
            default:
                Assert.Fail($"{context}: no oracle for {value.GetType().Name}");
                break;
        }
    }

    /// <summary>"-123.4" at scale 3 is -123400: the rendered decimal's unscaled value.</summary>
    private static BigInteger Unscaled(string text, int scale)
    {
        var negative = text.StartsWith('-');
        var parts = text.TrimStart('-').Split('.');
        var fraction = parts.Length > 1 ? parts[1] : "";
        Assert.True(fraction.Length <= scale, $"{text} has more fraction digits than scale {scale}");
        var digits = BigInteger.Parse(parts[0] + fraction.PadRight(scale, '0'), CultureInfo.InvariantCulture);
        return negative ? -digits : digits;
    }

    private static void AssertMasked(List<InformationItem> items, List<object?[]> pushed, List<RecordBatch> masked, string context)
    {
        Assert.Equal(pushed.Count, masked.Sum(b => b.Length));
        for (var i = 0; i < items.Count; i++)
        {
            var rule = items[i].Masking ?? MaskingRule.None;
            var type = ItemDataType.Parse(items[i].DataType);
            var pseudonyms = new Dictionary<string, string>(StringComparer.Ordinal);
            var r = 0;
            foreach (var batch in masked)
            {
                for (var row = 0; row < batch.Length; row++, r++)
                {
                    var value = pushed[r][i];
                    var actual = Read(batch.Column(i), row);
                    var where = $"{context}, row {r}, item {items[i].Id} ({rule.Kind}): pushed {Show(value)}, delivered {Show(actual)}";
                    switch (rule.Kind)
                    {
                        case MaskingKind.None:
                            Assert.True(SameValue(value, actual), where);
                            break;
                        case MaskingKind.Redact:
                            Assert.True(actual is null, where);
                            break;
                        case MaskingKind.KeepEnds:
                            Assert.True(Equals(value is null ? null : KeepEnds(Text(value), rule.Keep, rule.KeepEnd), actual), where);
                            break;
                        case MaskingKind.Pseudonym when value is null:
                            Assert.True(actual is null, where);
                            break;
                        case MaskingKind.Pseudonym:
                            {
                                // 32 hex digits, and the same value always gets the same pseudonym.
                                var pseudonym = Assert.IsType<string>(actual);
                                Assert.Matches("^[0-9a-f]{32}$", pseudonym);
                                var key = value is byte[] b ? Convert.ToHexString(b) : Text(value);
                                Assert.True(pseudonyms.TryAdd(key, pseudonym) || pseudonyms[key] == pseudonym, where);
                                break;
                            }

                        case MaskingKind.GeneraliseDate:
                            Assert.True(Equals(value is null ? null : Generalised(value, type, rule.Precision), actual), where);
                            break;
                        case MaskingKind.Bucket:
                            Assert.True(Equals(value is null ? null : Bucket(value, rule.Boundaries!), actual), where);
                            break;
                    }
                }
            }
        }
    }

    private static string Text(object value) => Convert.ToString(value, CultureInfo.InvariantCulture)!;

    private static string KeepEnds(string text, int keep, int keepEnd)
    {
        var runes = text.EnumerateRunes().Select(r => r.ToString()).ToList();
        if (runes.Count == 0)
        {
            return "";
        }

        var masked = Math.Max(1, runes.Count - keep - keepEnd);
        var head = Math.Min(keep, runes.Count - masked);
        return string.Concat(runes.Take(head)) + new string('*', masked) + string.Concat(runes.Skip(head + masked));
    }

    private static string Generalised(object value, ItemDataType type, DatePrecision precision)
    {
        var date = type.Kind == ItemTypeKind.Date32
            ? DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + (int)value).ToDateTime(TimeOnly.MinValue)
            : DateTimeOffset.UnixEpoch.AddTicks((long)value * 10).UtcDateTime;
        return date.ToString(precision == DatePrecision.Year ? "yyyy" : "yyyy-MM", CultureInfo.InvariantCulture);
    }

    private static string? Bucket(object value, IReadOnlyList<double> boundaries)
    {
        var x = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        if (double.IsNaN(x))
        {
            return null;
        }

        static string N(double d) => d.ToString("R", CultureInfo.InvariantCulture);
        var k = boundaries.Count(b => b <= x);
        return k == 0 ? $"(-∞,{N(boundaries[0])})" : k == boundaries.Count ? $"[{N(boundaries[^1])},+∞)" : $"[{N(boundaries[k - 1])},{N(boundaries[k])})";
    }

    /// <summary>RFC 4180: quoted fields may hold commas, quotes and line breaks.</summary>
    internal static List<List<string>> ParseCsv(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var at = text.StartsWith('\uFEFF') ? 1 : 0;
        for (; at < text.Length; at++)
        {
            var ch = text[at];
            if (quoted)
            {
                if (ch == '"' && at + 1 < text.Length && text[at + 1] == '"')
                {
                    field.Append('"');
                    at++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(ch);
                }
            }
            else if (ch == '"')
            {
                quoted = true;
            }
            else if (ch == ',')
            {
                row.Add(field.ToString());
                field.Clear();
            }
            else if (ch == '\r' && at + 1 < text.Length && text[at + 1] == '\n')
            {
                row.Add(field.ToString());
                field.Clear();
                rows.Add(row);
                row = [];
                at++;
            }
            else
            {
                field.Append(ch);
            }
        }

        Assert.False(quoted, "the CSV ends inside a quoted field");
        Assert.True(row.Count == 0 && field.Length == 0, "the CSV's last row has no line end");
        return rows;
    }
}
