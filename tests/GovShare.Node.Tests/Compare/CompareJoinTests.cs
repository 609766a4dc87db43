using System.Text;
using Apache.Arrow;
using GovShare.Node.Compare;

namespace GovShare.Node.Tests.Compare;

/// <summary>
/// The grace hash join alone, on generated rows whose differences are known by construction:
/// the same exact answer in memory and spilled (one level and split again), and no spill file
/// left after success, a refused submission or a cancellation.
/// </summary>
public sealed class CompareJoinTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("govshare-compare-join-");

    public void Dispose() => _root.Delete(recursive: true);

    /// <summary>
    /// Submission: keys 0..3999 (in both) and 10000..10499 (submission only); resource: keys 0..4999
    /// (1000 resource only). Item a differs where i % 7 == 0; item b is null in the resource where
    /// i % 11 == 0 and null in the submission where i % 13 == 0 (both null where i % 143 == 0: equal).
    /// </summary>
    private static (IArrowArray[] Keys, IArrowArray[] Items, int Rows) Side(bool submission, int from, int to)
    {
        var keys = new StringArray.Builder();
        var a = new Int64Array.Builder();
        var b = new StringArray.Builder();
        for (var i = from; i < to; i++)
        {
            keys.Append($"K{i:D8}");
            a.Append(submission && i % 7 == 0 ? i + 1_000_000L : i);
            if ((submission && i % 13 == 0) || (!submission && i % 11 == 0))
            {
                b.AppendNull();
            }
            else
            {
                b.Append("值" + i);
            }
        }

        return ([keys.Build()], [a.Build(), b.Build()], to - from);
    }

    private static CompareResult Run(long memory, string spill, int maxListed = 100_000)
    {
        using var join = new CompareJoin(2, listedItems: 0b11, listNotInResource: true, memory, spill, maxListed);
        foreach (var (from, to) in new[] { (0, 2000), (2000, 4000), (10000, 10500) })
        {
            var (k, v, n) = Side(true, from, to);
            join.AddSubmission(k, v, n);
        }

        for (var from = 0; from < 5000; from += 1000)
        {
            var (k, v, n) = Side(false, from, from + 1000);
            join.AddResource(k, v, n);
        }

        var result = join.Finish();
        Assert.Equal(memory < 100_000, join.Spilled);
        Assert.True(Directory.Exists(spill) == join.Spilled);
        return result;
    }

    [Theory]
    [InlineData(64L * 1024 * 1024)] // in memory
    [InlineData(64L * 1024)] // spilled once: 64 partitions of about 5 KiB of records
    [InlineData(2L * 1024)] // spilled and every partition split again
    public void Join_KnownDifferences_ExactCountsWhateverTheMemory(long memory)
    {
        var spill = Path.Combine(_root.FullName, "s" + memory);
        var result = Run(memory, spill);

        int Count(Func<int, bool> p) => Enumerable.Range(0, 4000).Count(p);
        Assert.Equal((4500L, 5000L, 4000L, 500L, 1000L, 0L), (result.SubmittedRows, result.ResourceRows, result.RowsInBoth, result.OnlyInSubmission, result.OnlyInResource, result.DuplicateKeysInResource));
        Assert.Equal(Count(i => i % 7 == 0), result.Items[0].Differing);
        Assert.Equal(Count(i => i % 7 != 0), result.Items[0].Matched);
        Assert.Equal((0L, 0L), (result.Items[0].MissingInResource, result.Items[0].MissingInSubmission));
        Assert.Equal(Count(i => i % 11 == 0 && i % 13 != 0), result.Items[1].MissingInResource);
        Assert.Equal(Count(i => i % 13 == 0 && i % 11 != 0), result.Items[1].MissingInSubmission);
        Assert.Equal(Count(i => (i % 11 == 0) == (i % 13 == 0)), result.Items[1].Matched);
        Assert.Equal(0, result.Items[1].Differing);
        var differing = Enumerable.Range(0, 4000).Where(i => i % 7 == 0 || ((i % 11 == 0) != (i % 13 == 0))).ToList();
        Assert.Equal(differing.Count, result.DifferingRows);

        // Every differing row and every submission-only key listed, in key order, with the items that differ.
        var listed = result.Listed.Select(l => (Key: Encoding.UTF8.GetString(CompareRows.KeyParts(l.Key)[0]), l.DifferingItems)).ToList();
        var expected = differing.Select(i => ($"K{i:D8}", (i % 7 == 0 ? 1UL : 0) | ((i % 11 == 0) != (i % 13 == 0) ? 2UL : 0)))
            .Concat(Enumerable.Range(10000, 500).Select(i => ($"K{i:D8}", 0UL))).ToList();
        Assert.Equal(expected, listed);
        Assert.Equal(0, result.ListedOmitted);
        Assert.Equal(memory < 100_000 ? CompareJoin.Partitions : 0, result.SpilledPartitions);
    }

    [Theory]
    [InlineData(64L * 1024 * 1024)]
    [InlineData(2L * 1024)]
    public void Join_ListCapped_TheSmallestKeysWhateverTheMemory(long memory)
    {
        var result = Run(memory, Path.Combine(_root.FullName, "c" + memory), maxListed: 5);
        Assert.Equal(["K00000000", "K00000007", "K00000011", "K00000013", "K00000014"], result.Listed.Select(l => Encoding.UTF8.GetString(CompareRows.KeyParts(l.Key)[0])));
        Assert.Equal(result.DifferingRows + result.OnlyInSubmission - 5, result.ListedOmitted);
    }

    [Theory]
    [InlineData(64L * 1024 * 1024)]
    [InlineData(2L * 1024)]
    public void Join_KeySubmittedTwice_RefusedAndNoSpillFileLeft(long memory)
    {
        var spill = Path.Combine(_root.FullName, "d" + memory);
        var join = new CompareJoin(2, 0b11, true, memory, spill, 10);
        var error = Assert.Throws<CompareInputException>(() =>
        {
            var (k, v, n) = Side(true, 0, 3000);
            join.AddSubmission(k, v, n);
            (k, v, n) = Side(true, 2999, 3000);
            join.AddSubmission(k, v, n);
            join.Finish();
        });
        Assert.Equal("key-duplicate", error.Code);
        join.Dispose();
        Assert.False(Directory.Exists(spill));
    }

    [Fact]
    public void Join_NullKey_Refused()
    {
        using var join = new CompareJoin(1, 1, true, 1 << 20, Path.Combine(_root.FullName, "n"), 10);
        var keys = new StringArray.Builder().Append("a").AppendNull().Build();
        var error = Assert.Throws<CompareInputException>(() => join.AddSubmission([keys], [new Int32Array.Builder().Append(1).Append(2).Build()], 2));
        Assert.Equal("key-null", error.Code);
    }

    [Fact]
    public void Join_CancelledWhileJoiningPartitions_NoSpillFileLeft()
    {
        var spill = Path.Combine(_root.FullName, "x");
        var join = new CompareJoin(2, 0b11, true, 2048, spill, 10);
        var (k, v, n) = Side(true, 0, 4000);
        join.AddSubmission(k, v, n);
        (k, v, n) = Side(false, 0, 5000);
        join.AddResource(k, v, n);
        Assert.True(Directory.EnumerateFiles(spill, "*", SearchOption.AllDirectories).Any());
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => join.Finish(cancelled.Token));
        join.Dispose();
        Assert.False(Directory.Exists(spill));
    }

    [Fact]
    public void Join_ManyKeyItems_KeyPartsKeptApart()
    {
        // ("ab","c") and ("a","bc") are two keys: each part is length-prefixed.
        using var join = new CompareJoin(1, 1, true, 1 << 20, Path.Combine(_root.FullName, "m"), 10);
        join.AddSubmission([new StringArray.Builder().Append("ab").Build(), new StringArray.Builder().Append("c").Build()], [new Int32Array.Builder().Append(1).Build()], 1);
        join.AddResource([new StringArray.Builder().Append("a").Build(), new StringArray.Builder().Append("bc").Build()], [new Int32Array.Builder().Append(1).Build()], 1);
        var result = join.Finish();
        Assert.Equal((0L, 1L, 1L), (result.RowsInBoth, result.OnlyInSubmission, result.OnlyInResource));
    }
}
