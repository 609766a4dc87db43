using GovShare.Node.Kernel;
using LiteDB;

namespace GovShare.Node.Tests.State;

/// <summary>
/// <see cref="IStateStore.Snapshot"/>, the online backup's view of the state: taken while state
/// changes run, the copy holds every change up to the sequence it returns and none after.
/// </summary>
public sealed class StateSnapshotTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "govshare-tests", $"snapshot-{Guid.NewGuid():N}");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }
    }

    [Fact]
    public async Task Snapshot_WhileChangesRun_HoldsExactlyTheChangesUpToItsSequence()
    {
        using var data = NodeDataFolder.Open(Path.Combine(_temp, "data"));
        var items = data.Collection<Item>("items", i => i.Sequence);
        long written = 0;
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            // Each change writes its document and marks its change-log sequence, as the features do.
            for (long sequence = 1; !stop.IsCancellationRequested; sequence++)
            {
                var current = sequence;
                data.State.Write(() =>
                {
                    items.Add(new Item { Id = current, Sequence = current, Payload = new string('x', 200) });
                    data.State.MarkApplied(current);
                });
                Interlocked.Exchange(ref written, current);
            }
        });

        while (Interlocked.Read(ref written) < 200)
        {
            await Task.Delay(10);
        }

        var target = Path.Combine(_temp, "backup");
        var sequence = data.State.Snapshot(target);
        var after = Interlocked.Read(ref written);
        while (Interlocked.Read(ref written) < after + 100)
        {
            await Task.Delay(10);
        }

        await stop.CancelAsync();
        await writer;

        Assert.True(sequence >= 200, $"snapshot at {sequence}");
        using var copy = new LiteDatabase(new ConnectionString { Filename = Path.Combine(target, NodeDataFolder.DatabaseFile), Connection = ConnectionType.Direct }, new BsonMapper());
        var ids = copy.GetCollection<Item>("items").FindAll().Select(i => i.Id).Order().ToList();
        Assert.Equal(Enumerable.Range(1, (int)sequence).Select(i => (long)i), ids);
        Assert.Equal(sequence, copy.GetCollection(StateStore.MetaCollection).FindById("change-log")["Value"].AsInt64);
        Assert.True(data.State.AppliedThrough > sequence, "the node went on writing after the snapshot");

        // The copy opens as a data folder's state, with its watermark.
        copy.Dispose();
        using var restored = NodeDataFolder.Open(target);
        Assert.Equal(sequence, restored.State.AppliedThrough);
    }

    [Fact]
    public void Snapshot_IntoAFolderThatHoldsADatabase_IsRefused()
    {
        using var data = NodeDataFolder.Open(Path.Combine(_temp, "data"));
        var target = Path.Combine(_temp, "backup");
        data.State.Snapshot(target);

        Assert.Throws<IOException>(() => data.State.Snapshot(target));
    }

    public sealed class Item
    {
        public long Id { get; set; }
        public long Sequence { get; set; }
        public string Payload { get; set; } = "";
    }
}
