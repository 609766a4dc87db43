using System.Diagnostics;

namespace GovShare.LoadBenchmark.Driver;

/// <summary>One status line on stderr, rewritten in place (at most a few times a second).</summary>
internal static class Progress
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private static readonly Lock Gate = new();
    // -1: nothing shown since the case began. (long.MinValue was the sentinel once: `now - MinValue`
    // overflows to a negative number, so every update after Begin was dropped until a forced one.)
    private static long _lastTicks = -1;
    private static string _case = "";

    public static void Begin(string caseName)
    {
        lock (Gate)
        {
            _case = caseName;
            _lastTicks = -1;
        }

        Update("starting");
    }

    public static void Update(string detail, bool force = false)
    {
        lock (Gate)
        {
            var now = Clock.ElapsedTicks;
            if (!force && _lastTicks >= 0 && now - _lastTicks < Stopwatch.Frequency / 4)
            {
                return;
            }

            _lastTicks = now;
            var line = $"[{Clock.Elapsed:mm\\:ss}] {_case}: {detail}";
            Console.Error.Write("\r\u001b[K" + (line.Length > 150 ? line[..150] : line));
        }
    }

    public static void End(string summary)
    {
        lock (Gate)
        {
            Console.Error.Write($"\r\u001b[K[{Clock.Elapsed:mm\\:ss}] {_case}: {summary}\n");
        }
    }
}
