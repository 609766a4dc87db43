using System.Diagnostics;

namespace GovShare.LoadBenchmark.Driver;

/// <summary>
/// One step of a warm-up round: work against a server (requests or transfers; returns how many)
/// while that server's tiering thread is watched, or, with no server, work that is only done.
/// </summary>
internal sealed record WarmUpStep(ChildProcess? Server, Func<int, Task<long>> Run);

/// <summary>
/// What a warm-up took: its rounds, the requests or transfers made, its seconds, and each watched
/// server's tiering-thread share of that server's CPU in the last round.
/// </summary>
internal sealed record WarmUp(int Rounds, long Work, double Seconds, IReadOnlyDictionary<ChildProcess, double> LastTieringShare)
{
    /// <summary>
    /// Under this share of a server's CPU in a round, its tiering thread is idle enough that the
    /// measured rounds see tier-1 code: the share the arrow-vs-json and push cases settled on
    /// (results/profile-arrow-vs-json.txt, profile-push.txt).
    /// </summary>
    public const double IdleTieringShare = 0.02;

    /// <summary>At most this long, so a machine too loaded to settle still gets its figures (with the share recorded).</summary>
    public static TimeSpan Limit { get; } = TimeSpan.FromSeconds(180);

    /// <summary>
    /// Warm-up, not measured, until the servers have stopped re-compiling: rounds of the steps in
    /// turn until every watched server's tiering thread (".NET Tiered Com") used under
    /// <see cref="IdleTieringShare"/> of that server's CPU in a round (at least
    /// <paramref name="atLeast"/> rounds, at most <paramref name="atMost"/> or <see cref="Limit"/>;
    /// one round in smoke mode). A production node has been serving, its hot methods re-compiled at
    /// tier 1 with PGO; a freshly started one spends its first seconds in tier-0 and instrumented
    /// code while the tiering thread competes for the same two cores, and under load it takes the
    /// longer the fewer requests a second it is given. A fixed warm-up was too short at load
    /// (push, arrow-vs-json, and the one-row case: half its node's samples were tier-up JIT at load
    /// 80 after 5 s of warm-up and two 20-s rounds; results/profile-small-exchanges.txt).
    /// </summary>
    public static async Task<WarmUp> UntilTieredAsync(bool smoke, int atLeast, int atMost, params WarmUpStep[] steps)
    {
        var clock = Stopwatch.StartNew();
        long work = 0;
        var shares = new Dictionary<ChildProcess, double>();
        for (var round = 1; ; round++)
        {
            var cpu = new Dictionary<ChildProcess, double>();
            var compiled = new Dictionary<ChildProcess, double>();
            foreach (var step in steps)
            {
                if (step.Server is not { } server)
                {
                    work += await step.Run(round);
                    continue;
                }

                var cpu0 = server.CpuSeconds;
                var tiering0 = server.ThreadCpuSeconds(TieringThread);
                work += await step.Run(round);
                var tiering = server.ThreadCpuSeconds(TieringThread).Sum(t => t.Value - tiering0.GetValueOrDefault(t.Key));
                cpu[server] = cpu.GetValueOrDefault(server) + (server.CpuSeconds - cpu0);
                compiled[server] = compiled.GetValueOrDefault(server) + tiering;
            }

            // /proc counts in 10-ms ticks: a round a server barely worked in reads as settled only
            // if its tiering thread used no tick at all.
            shares = cpu.ToDictionary(c => c.Key, c => compiled[c.Key] / Math.Max(0.01, c.Value));
            Progress.Update($"warm-up {round} ({clock.Elapsed.TotalSeconds:0} s): tiering thread {string.Join(", ", shares.Select(s => $"{100 * s.Value:0.0} % of {s.Key.Name}'s CPU"))}", force: true);
            if (smoke || (round >= atLeast && (shares.Values.All(s => s < IdleTieringShare) || round >= atMost || clock.Elapsed > Limit)))
            {
                return new WarmUp(round, work, clock.Elapsed.TotalSeconds, shares);
            }
        }
    }

    /// <summary>The runtime's tiering thread's name (15 characters of ".NET Tiered Compilation Worker").</summary>
    public const string TieringThread = ".NET Tiered";

    /// <summary>The tiering share of <paramref name="server"/> in the last round (0 if it was not watched).</summary>
    public double ShareOf(ChildProcess server) => LastTieringShare.GetValueOrDefault(server);
}
