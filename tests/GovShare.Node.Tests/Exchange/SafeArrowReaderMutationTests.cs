using System.Buffers.Binary;
using GovShare.Node.Exchange.ArrowInput;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// A seeded mutation run: thousands of valid streams with flipped bytes, overwritten lengths,
/// truncations and splices. Each either reads fully (every value touched through Apache.Arrow's
/// own accessors) or fails with <see cref="ArrowInputException"/>: never another exception,
/// never a crash, never a large allocation.
/// </summary>
public sealed class SafeArrowReaderMutationTests(ITestOutputHelper output)
{
    // A longer campaign: GOVSHARE_MUTATION_INPUTS=200000 GOVSHARE_MUTATION_SEED=7 dotnet test --filter Mutation
    private static readonly int Inputs = int.TryParse(Environment.GetEnvironmentVariable("GOVSHARE_MUTATION_INPUTS"), out var n) ? n : 3000;
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("GOVSHARE_MUTATION_SEED"), out var s) ? s : 20261124;
    private const long AllocationBound = 32L << 20;

    private static readonly int[] InterestingInt32 = [0, 1, -1, 7, 8, 255, 4096, 65536, int.MaxValue, int.MinValue, 0x7FFFFFF8, 1_700_000_000];

    [Fact]
    public async Task ReadAll_ThreeThousandMutatedStreams_ReadOrArrowInputExceptionOnly()
    {
        var random = new Random(Seed);
        byte[][] seeds =
        [
            ArrowSamples.PeopleStream(batches: 3, rows: 12),
            ArrowSamples.NameStream("张三", "李小明", null, "王五", "欧阳娜娜"),
            ArrowSamples.PeopleStream(batches: 1, rows: 40),
        ];
        var limits = ArrowInputLimits.Default with { MaxBodyBytes = 1 << 20, MaxMetadataBytes = 64 << 10 };
        var failures = new List<string>();
        var outcomes = new Dictionary<string, int>();
        for (var n = 0; n < Inputs; n++)
        {
            var (input, how) = Mutate(random, seeds);
            long? declared = n % 2 == 0 ? input.Length : null;
            var before = GC.GetAllocatedBytesForCurrentThread();
            string outcome;
            try
            {
                await ArrowSamples.ReadAllAsync(input, limits, declared);
                outcome = "read";
            }
            catch (ArrowInputException ex)
            {
                outcome = ex.Code;
            }
#pragma warning disable CA1031 // The test's point is that nothing else escapes; anything that does is recorded as a failure.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                outcome = "escaped";
                failures.Add($"#{n} {how}: {ex.GetType().Name}: {ex.Message}");
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > AllocationBound)
            {
                failures.Add($"#{n} {how}: allocated {allocated} bytes");
            }

            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        output.WriteLine($"seed {Seed}, {Inputs} inputs: {Describe(outcomes)}");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));

        // The run must exercise both sides and many distinct refusals, or it proves little.
        Assert.True(outcomes.GetValueOrDefault("read") > 50, Describe(outcomes));
        Assert.True(outcomes.Count >= 8, Describe(outcomes));
    }

    private static string Describe(Dictionary<string, int> outcomes) =>
        string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key}={o.Value}"));

    /// <summary>One mutant of one of <paramref name="seeds"/>: also the push fuzz's mutator (<see cref="PushMutationFuzzTests"/>).</summary>
    internal static (byte[] Input, string How) Mutate(Random random, byte[][] seeds)
    {
        var seed = seeds[random.Next(seeds.Length)];
        var input = (byte[])seed.Clone();
        switch (random.Next(7))
        {
            case 0:
                {
                    var flips = 1 + random.Next(4);
                    for (var i = 0; i < flips; i++)
                    {
                        input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                    }

                    return (input, $"flip {flips} bits");
                }

            case 1:
                {
                    var at = random.Next(input.Length - 4) & ~3;
                    BinaryPrimitives.WriteInt32LittleEndian(input.AsSpan(at), InterestingInt32[random.Next(InterestingInt32.Length)]);
                    return (input, $"int32 at {at}");
                }

            case 2:
                {
                    var at = random.Next(input.Length);
                    input[at] = (byte)random.Next(256);
                    return (input, $"byte at {at}");
                }

            case 3:
                {
                    var cut = random.Next(input.Length);
                    return (input[..cut], $"truncate at {cut}");
                }

            case 4:
                {
                    var other = seeds[random.Next(seeds.Length)];
                    var a = random.Next(input.Length);
                    var b = random.Next(other.Length);
                    return ([.. input[..a], .. other[b..]], $"splice {a}/{b}");
                }

            case 5:
                {
                    var a = random.Next(input.Length);
                    var length = random.Next(1, Math.Min(64, input.Length - a) + 1);
                    return ([.. input[..(a + length)], .. input[a..]], $"duplicate {a}+{length}");
                }

            default:
                {
                    // A valid body with one value-bearing int32 replaced: targets offsets and lengths
                    // that the framing checks cannot see.
                    var frames = ArrowSamples.Frames(seed);
                    var frame = frames[1 + random.Next(frames.Count - 1)];
                    var at = frame.BodyStart + (random.Next(frame.BodyLength - 4) & ~3);
                    BinaryPrimitives.WriteInt32LittleEndian(input.AsSpan(at), InterestingInt32[random.Next(InterestingInt32.Length)] ^ random.Next(4));
                    return (input, $"body int32 at {at}");
                }
        }
    }
}
