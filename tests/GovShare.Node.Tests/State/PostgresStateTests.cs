using System.Diagnostics;
using GovShare.Adapters.Tests;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace GovShare.Node.Tests.State;

/// <summary>One throwaway PostgreSQL cluster for the class; each test gets a database of its own.</summary>
public sealed class PostgresCluster : IDisposable
{
    private readonly PostgresServer _server = new();

    /// <summary>A fresh, empty database; its connection string.</summary>
    public string NewDatabase()
    {
        var name = "t" + Guid.NewGuid().ToString("N");
        using (var connection = new NpgsqlConnection(_server.ConnectionString))
        {
            connection.Open();
            using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            create.ExecuteNonQuery();
        }

        return new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    public void Dispose() => _server.Dispose();
}

/// <summary>
/// The PostgreSQL state backend (issue 19) on a real server: the document seam behaves as LiteDB's
/// does, and two replicas (two state stores on one database, as two processes would hold) see each
/// other's committed changes — a revoked grant and a removed department — through the notification,
/// through the catch-up when there is none, and before deciding any change of their own.
/// </summary>
public sealed class PostgresStateTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>, IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 2, 0, 0, TimeSpan.Zero);
    private readonly List<IDisposable> _open = [];

    public void Dispose()
    {
        foreach (var open in Enumerable.Reverse(_open))
        {
            open.Dispose();
        }
    }

    private NodeDataFolder Replica(string connectionString, string replica, TimeSpan? catchUp = null)
    {
        var path = Path.Combine(Path.GetTempPath(), "govshare-tests", "pg-" + Guid.NewGuid().ToString("N"));
        var folder = NodeDataFolder.Open(path, stateOptions: new StateOptions
        {
            Backend = StateOptions.PostgreSql,
            ConnectionString = connectionString,
            ReplicaId = replica,
            CatchUpInterval = catchUp ?? TimeSpan.FromMinutes(5),
        });
        _open.Add(new Cleanup(() => Directory.Delete(path, recursive: true)));
        _open.Add(folder);
        return folder;
    }

    private static Grant Grant(string id, GrantStatus status = GrantStatus.Active) =>
        new(id, "530100", "11530100MB0000001X", "301100/000001", [new GrantedItem("full_name", MaskingRule.Redact)], "p",
            Now.AddDays(-1), Now.AddDays(30), status, "dec", Now);

    [Fact]
    public async Task SnapshotAge_GrowsWhileNothingConfirmsTheSnapshots_BackToNearZeroAfterACatchUp()
    {
        // No follower runs here (the host starts it): nothing confirms the snapshots but the calls below.
        var connection = cluster.NewDatabase();
        var store = (PostgresStateStore)Replica(connection, "a").State;
        var registry = new DepartmentRegistry(Replica(connection, "b"), TimeProvider.System, new CountingJournal(), "530100");

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var stale = store.SnapshotAge;
        Assert.True(stale >= TimeSpan.FromSeconds(1), $"age {stale} after 1.5 s without a check");

        // Another replica's change, then this replica's catch-up: reloaded, and confirmed current.
        Assert.Empty(registry.Register("530100", TestPki.NewCreditCode(), "Kunming Civil Affairs Bureau", out _));
        Assert.True(store.CatchUp());
        Assert.True(store.SnapshotAge < stale, $"age {store.SnapshotAge} after a catch-up, {stale} before");

        // A check that finds nothing new confirms them too.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var again = store.SnapshotAge;
        Assert.False(store.CatchUp());
        Assert.True(store.SnapshotAge < again);
    }

    [Fact]
    public void Documents_OnPostgreSqlAndLiteDb_AnswerAlike()
    {
        var lite = Path.Combine(Path.GetTempPath(), "govshare-tests", "lite-" + Guid.NewGuid().ToString("N"));
        using var liteFolder = NodeDataFolder.Open(lite);
        _open.Add(new Cleanup(() => Directory.Delete(lite, recursive: true)));
        var postgres = Replica(cluster.NewDatabase(), "a");

        foreach (var folder in new[] { liteFolder, postgres })
        {
            var docs = folder.Collection<TestDocument>("test_docs", d => d.Owner, d => d.Open);
            var stream = folder.Collection<TestEvent>("test_events", d => d.Subject);
            folder.State.Write(() =>
            {
                docs.PutMany([new() { Id = "b", Owner = "x", Open = true }, new() { Id = "a", Owner = "x", Open = false }, new() { Id = "c", Owner = "y", Open = true }]);
                docs.Put(new TestDocument { Id = "c", Owner = "y", Open = false, Note = "changed" });
            });
            for (var i = 1; i <= 5; i++)
            {
                stream.Put(new TestEvent { Sequence = i, Subject = i % 2 == 0 ? "even" : "odd" });
            }

            Assert.Equal(["a", "b", "c"], docs.All().Select(d => d.Id));
            Assert.Equal(["a", "b"], docs.Where(d => d.Owner, "x").Select(d => d.Id).Order());
            Assert.Equal(["b"], docs.Where(d => d.Open, true).Select(d => d.Id));
            Assert.Equal("changed", docs.Find("c")?.Note);
            Assert.Null(docs.Find("z"));
            Assert.False(docs.Add(new TestDocument { Id = "a", Owner = "taken" }));
            Assert.Equal("x", docs.Find("a")?.Owner);
            Assert.True(docs.Add(new TestDocument { Id = "d", Owner = "y" }));
            Assert.Equal(2, docs.DeleteWhere(d => d.Owner, "y"));
            Assert.True(docs.Delete("a"));
            Assert.False(docs.Delete("a"));
            Assert.Equal(["b"], docs.All().Select(d => d.Id));
            Assert.Throws<ArgumentException>(() => docs.Where(d => d.Note!, "changed"));

            Assert.Equal(5, stream.MaxKey());
            Assert.Equal([3L, 4L, 5L], stream.After(2, 10).Select(e => e.Sequence));
            Assert.Equal([4L], stream.After(2, 10, e => e.Subject, "even").Select(e => e.Sequence));
            Assert.Equal([1L, 2L], stream.After(0, 2).Select(e => e.Sequence));
        }
    }

    [Fact]
    public void Write_ThatFails_LeavesNothingAndTellsNoReplica()
    {
        var connection = cluster.NewDatabase();
        var a = Replica(connection, "a");
        var docs = a.Collection<TestDocument>("test_docs", d => d.Owner);
        var version = ((PostgresStateStore)a.State).SeenVersion;

        Assert.Throws<InvalidOperationException>(() => a.State.Write(() =>
        {
            docs.Put(new TestDocument { Id = "a", Owner = "x" });
            a.State.MarkApplied(7);
            throw new InvalidOperationException("refused half-way");
        }));

        Assert.Empty(docs.All());
        Assert.Equal(0, a.State.AppliedThrough);
        Assert.Equal(version, ((PostgresStateStore)a.State).SeenVersion);
    }

    [Fact]
    public void GrantRevokedOnOneReplica_RefusedOnTheOther_ByTheNotification()
    {
        var connection = cluster.NewDatabase();
        // A catch-up interval of five minutes: only the notification can bring the change in time.
        var a = Replica(connection, "a");
        var b = Replica(connection, "b");
        var grantsA = new GrantStore(a);
        var grantsB = new GrantStore(b);
        ((PostgresStateStore)a.State).StartFollowing();
        ((PostgresStateStore)b.State).StartFollowing();

        grantsA.Save(Grant("g1"));
        Eventually(() => grantsB.Effective("11530100MB0000001X", "301100/000001", "p", Now) is not null);
        var generation = grantsB.Generation;

        Assert.True(grantsA.SetStatus("g1", GrantStatus.Revoked, "misuse", Now));

        Eventually(() => grantsB.Effective("11530100MB0000001X", "301100/000001", "p", Now) is null);
        Assert.True(grantsB.Generation > generation, "a pull in progress on B notices the revocation by the generation");
        Assert.Equal(GrantStatus.Revoked, grantsB.Find("g1")?.Status);
    }

    [Fact]
    public void DepartmentRemovedOnOneReplica_RefusedOnTheOther_ByTheCatchUpWithoutNotification()
    {
        var connection = cluster.NewDatabase();
        var a = Replica(connection, "a");
        var b = Replica(connection, "b");
        var registryA = new DepartmentRegistry(a, TimeProvider.System, new CountingJournal(), "530100");
        var registryB = new DepartmentRegistry(b, TimeProvider.System, new CountingJournal(), "530100");
        var code = TestPki.NewCreditCode();
        var caller = CallerIdentity.Department("530100", code);
        Assert.Empty(registryA.Register("530100", code, "Kunming Civil Affairs Bureau", out _));

        // B does not listen: what it sees comes from the catch-up alone (the fallback when the listening connection is down).
        Assert.False(registryB.IsRegistered(caller));
        Assert.True(((PostgresStateStore)b.State).CatchUp());
        Assert.True(registryB.IsRegistered(caller));
        Assert.False(((PostgresStateStore)b.State).CatchUp());

        Assert.True(registryA.Remove(code));
        Assert.True(registryB.IsRegistered(caller));
        Assert.True(((PostgresStateStore)b.State).CatchUp());
        Assert.False(registryB.IsRegistered(caller));
    }

    [Fact]
    public void Change_OnAReplicaBehind_IsDecidedOnTheCommittedState()
    {
        var connection = cluster.NewDatabase();
        var a = Replica(connection, "a");
        var b = Replica(connection, "b");
        var registryA = new DepartmentRegistry(a, TimeProvider.System, new CountingJournal(), "530100");
        var registryB = new DepartmentRegistry(b, TimeProvider.System, new CountingJournal(), "530100");
        var code = TestPki.NewCreditCode();
        Assert.Empty(registryA.Register("530100", code, "Kunming Civil Affairs Bureau", out _));

        // B has not heard of the department (it neither listens nor caught up), yet removing it
        // works: the change takes the node-wide lock, sees the state moved and reloads first.
        Assert.Null(registryB.Find(code));
        Assert.True(registryB.Remove(code));

        // And A, which still holds it in its snapshot, does not remove it twice: it reloads first.
        Assert.NotNull(registryA.Find(code));
        Assert.False(registryA.Remove(code));
        Assert.Null(registryA.Find(code));
    }

    [Fact]
    public void CatalogUpdate_WithTheSameExpectedVersionOnTwoReplicas_OnlyOneWins()
    {
        var connection = cluster.NewDatabase();
        var a = Replica(connection, "a");
        var b = Replica(connection, "b");
        var calendar = CatalogFixture.PlainCalendar(2026, 2027);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 3, 2, 2, 0, 0, TimeSpan.Zero));
        var catalogA = new CatalogStore(a, new StateCatalogChangeSink(a), calendar, time, NullLogger<CatalogStore>.Instance);
        var catalogB = new CatalogStore(b, new StateCatalogChangeSink(b), calendar, time, NullLogger<CatalogStore>.Instance);
        var entry = CatalogFixture.Entry("101001/000001", CatalogFixture.Police);
        Assert.Equal(CatalogOutcome.Created, catalogA.Create(entry, CatalogFixture.Police).Outcome);

        // Both replicas are asked to update version 1 (B has not even seen the entry yet): the
        // check runs inside the node-wide gate on the committed state, so only the first wins.
        Assert.Equal(CatalogOutcome.Ok, catalogB.Update(entry.ResourceCode, entry with { Name = "人口基本信息（B）" }, 1, CatalogFixture.Police).Outcome);
        Assert.Equal(CatalogOutcome.PreconditionFailed, catalogA.Update(entry.ResourceCode, entry with { Name = "人口基本信息（A）" }, 1, CatalogFixture.Police).Outcome);
        Assert.Equal("人口基本信息（B）", catalogA.Get(entry.ResourceCode)?.Name);
        Assert.Equal(2, catalogA.Get(entry.ResourceCode)?.Version);
    }

    [Fact]
    public void Watermark_IsPerReplica()
    {
        var connection = cluster.NewDatabase();
        var a = Replica(connection, "a");
        var b = Replica(connection, "b");
        var journalA = new CountingJournal(start: 40);
        var registryA = new DepartmentRegistry(a, TimeProvider.System, journalA, "530100");
        var registryB = new DepartmentRegistry(b, TimeProvider.System, new CountingJournal(start: 3), "530100");
        Assert.Empty(registryA.Register("530100", TestPki.NewCreditCode(), "A", out _));
        Assert.Empty(registryB.Register("530100", TestPki.NewCreditCode(), "B", out _));

        Assert.Equal(41, a.State.AppliedThrough);
        Assert.Equal(4, b.State.AppliedThrough);
        Assert.False(a.State.ReplaysChangeLog);
        var again = Replica(connection, "a");
        Assert.Equal(41, again.State.AppliedThrough);
    }

    [Fact]
    public void Leader_IsOneReplica_AndAnotherTakesOverWhenItGoes()
    {
        var connection = cluster.NewDatabase();
        var replicas = new[] { Replica(connection, "a", TimeSpan.FromMilliseconds(200)), Replica(connection, "b", TimeSpan.FromMilliseconds(200)) };
        foreach (var replica in replicas)
        {
            ((PostgresStateStore)replica.State).StartFollowing();
        }

        Eventually(() => replicas.Count(r => r.State.IsLeader) == 1);
        for (var i = 0; i < 20; i++)
        {
            Assert.True(replicas.Count(r => r.State.IsLeader) <= 1, "two leaders at once");
            Thread.Sleep(50);
        }

        var leader = replicas.Single(r => r.State.IsLeader);
        var other = replicas.Single(r => r != leader);
        leader.Dispose();

        Eventually(() => other.State.IsLeader);
        Assert.False(leader.State.IsLeader);
    }

    private static void Eventually(Func<bool> condition)
    {
        // Generous for a loaded machine; the notification normally lands within milliseconds.
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the other replica did not follow within 60 s");
            Thread.Sleep(20);
        }
    }

    public sealed class TestDocument
    {
        public string Id { get; set; } = "";
        public string Owner { get; set; } = "";
        public bool Open { get; set; }
        public string? Note { get; set; }
    }

    public sealed class TestEvent
    {
        [LiteDB.BsonId(autoId: false)]
        public long Sequence { get; set; }

        public string Subject { get; set; } = "";
    }

    private sealed class CountingJournal(long start = 0) : IStateJournal
    {
        private long _next = start;

        public long Append(StateChange change) => Interlocked.Increment(ref _next);
    }

    private sealed class Cleanup(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
