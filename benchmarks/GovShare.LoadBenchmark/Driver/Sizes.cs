namespace GovShare.LoadBenchmark.Driver;

/// <summary>How much each case moves. The full run takes a few minutes on 2 cores; the smoke run seconds.</summary>
internal sealed record Sizes(
    long LargeRows,
    int BatchRows,
    long PushRows,
    long TextRows,
    long ForwardedRows,
    int Rounds,
    TimeSpan SmallDuration,
    int SmallWorkers,
    TimeSpan TextDuration)
{
    /// <summary>A 1 GB+ large pull (≈ 98 output bytes a row), a 300 MB push, 100k rows for JSON (the node's text limit).</summary>
    public static Sizes Full { get; } = new(12_000_000, 65_536, 2_000_000, 100_000, 1_500_000, 3, TimeSpan.FromSeconds(5), 16, TimeSpan.FromSeconds(6));

    public static Sizes Smoke { get; } = new(40_000, 8_192, 20_000, 5_000, 20_000, 1, TimeSpan.FromSeconds(1), 4, TimeSpan.FromSeconds(1));
}
