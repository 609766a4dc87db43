using System.Diagnostics;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Tests.Catalog;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace GovShare.Node.Tests.State;

/// <summary>
/// The office's registers on the PostgreSQL backend with two replicas of one node (issue 19's
/// scale-out): what the office decides on one replica is what the other acts on, and a
/// department's catalog write on one meets the deadline recorded on the other.
/// </summary>
public sealed class OfficePostgresTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>, IDisposable
{
    private readonly List<IDisposable> _open = [];
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 2, 2, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        foreach (var open in Enumerable.Reverse(_open))
        {
            open.Dispose();
        }
    }

    [Fact]
    public void OfficeOnOneReplica_DepartmentOnTheOther_BothSeeOneState()
    {
        var connection = cluster.NewDatabase();
        var a = Open(connection, "a");
        var b = Open(connection, "b");
        var code = "101002/000001";
        Assert.Empty(a.Registry.Register(CatalogFixture.Police.DivisionCode, CatalogFixture.Police.CreditCode!, "Kunming Public Security Bureau", out _));
        var created = a.Catalog.Create(CatalogFixture.Entry(code, CatalogFixture.Police), CatalogFixture.Police).Entry!;

        // Art. 17: reported on A, approved on B (which has not seen the entry: it decides on the committed state).
        var reported = a.Catalog.Update(code, created with { Share = new ShareAttributes(ShareType.Conditional, Condition: "仅限公安业务") }, 1, CatalogFixture.Police).Entry!;
        Assert.Equal(ShareType.Unconditional, reported.Share.Type);
        var approved = b.Catalog.DecideShareReview(code, approve: true, null, "govshare:operator/530100/zhang.wei");
        Assert.Equal(ShareType.Conditional, approved.Entry!.Share.Type);
        Eventually(() => a.Catalog.Get(code)?.Share.Type == ShareType.Conditional);
        Assert.Equal(CatalogOutcome.NotFound, a.Catalog.DecideShareReview(code, approve: false, "too late", "govshare:operator/530100/li.na").Outcome);

        // Art. 11: recorded on A; the police's update arrives on B and meets it, once.
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Empty(a.Duties.Record("Duties moved", null, [CatalogFixture.Police.CreditCode!], "govshare:operator/530100/zhang.wei", out var duty));
        _time.Advance(TimeSpan.FromDays(2));
        Assert.True(b.Catalog.Update(code, b.Catalog.Get(code)!, 3, CatalogFixture.Police).Succeeded);
        Eventually(() => a.Duties.Find(duty!.Id)?.Departments[0].CatalogUpdatedAt == _time.GetUtcNow());
        Assert.True(Assert.Single(a.Duties.Deadlines(new DateOnly(2026, 3, 30))).Met);

        // Art. 13 and 12: a designation made on B and a filing received on A are one state.
        Assert.Empty(b.Designations.Designate("公民身份号码", "utf8", "530100", CatalogFixture.Police.CreditCode, "户籍登记", "govshare:operator/530100/li.na", out _));
        Eventually(() => a.Designations.All().Count == 1);
        var filing = a.Filings.Receive("530102", [], new CatalogPublication([]), "govshare:node/530102")!;
        Assert.Equal(FilingReviewOutcome.Ok, b.Filings.Review(filing.Id, approve: false, "empty catalog", "govshare:operator/530100/li.na", out _));
        Assert.Equal(FilingReviewOutcome.AlreadyReviewed, a.Filings.Review(filing.Id, approve: true, null, "govshare:operator/530100/zhang.wei", out _));
    }

    private Replica Open(string connectionString, string id)
    {
        var path = Path.Combine(Path.GetTempPath(), "govshare-tests", "pg-office-" + Guid.NewGuid().ToString("N"));
        var folder = NodeDataFolder.Open(path, stateOptions: new StateOptions
        {
            Backend = StateOptions.PostgreSql,
            ConnectionString = connectionString,
            ReplicaId = id,
        });
        _open.Add(new Cleanup(() => Directory.Delete(path, recursive: true)));
        _open.Add(folder);
        // Each replica hears the other's commits (LISTEN/NOTIFY), as a running node does.
        ((PostgresStateStore)folder.State).StartFollowing();
        var journal = new CountingJournal();
        var calendar = CatalogFixture.PlainCalendar(2026, 2027);
        var catalog = new CatalogStore(folder, new StateCatalogChangeSink(folder), calendar, _time, NullLogger<CatalogStore>.Instance);
        var registry = new DepartmentRegistry(folder, _time, journal, "530100");
        return new Replica(
            catalog,
            registry,
            new DutyChangeRegister(folder, catalog, registry, calendar, _time, journal),
            new CollectorDesignations(folder, Microsoft.Extensions.Options.Options.Create(new NodeOptions { DivisionCode = "530100" }), _time, journal),
            new CatalogFilings(folder, _time, journal));
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

    private sealed record Replica(CatalogStore Catalog, DepartmentRegistry Registry, DutyChangeRegister Duties, CollectorDesignations Designations, CatalogFilings Filings);

    private sealed class CountingJournal : IStateJournal
    {
        private long _next;

        public long Append(StateChange change) => Interlocked.Increment(ref _next);
    }

    private sealed class Cleanup(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
