using System.Linq.Expressions;
using LiteDB;

namespace GovShare.Node.Kernel;

/// <summary>
/// The node's state (registry, links, catalog, requests, grants, disputes) as kept in the data
/// folder's database, and the one gate every change of it passes. The change log is the
/// write-ahead log of this state (<c>Kernel/README.md</c>): a change is written in a transaction
/// that also records the change-log sequence it was logged under (<see cref="GatedStateStore.MarkApplied"/>), so
/// at start the node knows exactly which logged changes the database may have lost and replays them.
/// </summary>
/// <remarks>
/// One gate for every state change, not one per feature: the watermark is a single "applied
/// through" sequence, which is only sound if changes commit in the order the change log numbers
/// them. With two writers each holding its own lock, record 10 could commit after record 11, and
/// a crash between the two would leave a watermark of 11 over a lost 10.
/// </remarks>
public sealed class StateStore : GatedStateStore, IStateStore
{
    internal const string MetaCollection = "state_meta";
    private const string WatermarkId = "change-log";
    private readonly LiteDatabase _db;
    private readonly ILiteCollection<MetaDocument> _meta;

    internal StateStore(LiteDatabase database)
    {
        _db = database;
        _meta = Open<MetaDocument>(database, MetaCollection, m => m.Value);
        AppliedThrough = _meta.FindById(WatermarkId)?.Value ?? 0;
    }


    public bool ReplaysChangeLog => true;

    /// <summary>One process owns a LiteDB file: it is the node's only replica, so its leader.</summary>
    public bool IsLeader => true;

    /// <summary>
    /// A collection opened safely: created with a real index and its document type mapped before
    /// anything else uses it. LiteDB 5 corrupts a collection ("page type must be collection page")
    /// when the write that creates it races a reader of it (litedb-org/LiteDB #2792), and 5.0.21
    /// saved documents with missing fields when several threads built a type's mapping at once.
    /// <c>GetCollection</c> alone creates nothing and <c>EnsureIndex("_id")</c> does nothing, so
    /// every collection names at least one index of a real field. Call it from a store's
    /// constructor; the host constructs every store on one thread before it starts serving.
    /// </summary>
    public IStateDocuments<T> Collection<T>(string name, params Expression<Func<T, object>>[] indexes)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(indexes);
        return new LiteStateDocuments<T>(Open(_db, name, indexes), DocumentShape.Members(indexes));
    }

    /// <inheritdoc cref="Collection{T}(string, Expression{Func{T, object}}[])"/>
    internal static ILiteCollection<T> Open<T>(LiteDatabase database, string name, params Expression<Func<T, object>>[] indexes)
        where T : new()
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(indexes);
        if (indexes.Length == 0)
        {
            throw new ArgumentException($"collection {name}: name at least one index of a real field; without one the collection is created by its first write, racing its readers", nameof(indexes));
        }

        // Builds and caches the type's mapping now, on this one thread.
        _ = database.Mapper.ToDocument(new T());
        var collection = database.GetCollection<T>(name);
        foreach (var index in indexes)
        {
            collection.EnsureIndex(index);
        }

        return collection;
    }

    /// <summary>One process owns a LiteDB file: nothing else changes it, so there is nothing to reload.</summary>
    public void OnChangedElsewhere(Action reload) => ArgumentNullException.ThrowIfNull(reload);

    public void Check() => _ = _db.GetCollectionNames().Count();

    /// <inheritdoc/>
    protected override T Commit<T>(Func<T> work, Func<long?> watermark)
    {
        var own = _db.BeginTrans();
        try
        {
            var result = work();
            if (watermark() is { } sequence)
            {
                _meta.Upsert(new MetaDocument { Id = WatermarkId, Value = sequence });
            }

            if (own)
            {
                _db.Commit();
            }

            return result;
        }
        catch
        {
            if (own)
            {
                _db.Rollback();
            }

            throw;
        }
    }

    /// <summary>
    /// A logical copy, not a file copy: under the gate (no state change runs) and inside one read
    /// transaction (LiteDB's snapshot, so documents that other writers change outside the gate are read
    /// as of one instant too), every collection's documents go into a new <c>govshare.db</c> in
    /// <paramref name="targetFolder"/>. Copying the file of an open database would race LiteDB's own
    /// checkpoints of its write-ahead file. Indexes are not copied: the stores ensure theirs when they open it.
    /// </summary>
    public long Snapshot(string targetFolder)
    {
        Directory.CreateDirectory(targetFolder);
        var file = Path.Combine(targetFolder, NodeDataFolder.DatabaseFile);
        if (File.Exists(file))
        {
            throw new IOException($"'{file}' exists: a snapshot is written into a new folder only.");
        }

        lock (Gate)
        {
            if (InChange)
            {
                throw new InvalidOperationException("A snapshot cannot be taken inside a state change.");
            }

            using var target = new LiteDatabase(new ConnectionString { Filename = file, Connection = ConnectionType.Direct }, new BsonMapper());
            var own = _db.BeginTrans();
            try
            {
                foreach (var name in _db.GetCollectionNames().Order(StringComparer.Ordinal).ToList())
                {
                    var copy = target.GetCollection(name);
                    foreach (var chunk in _db.GetCollection(name).FindAll().Chunk(1000))
                    {
                        copy.InsertBulk(chunk);
                    }
                }

                target.Checkpoint();
                return AppliedThrough;
            }
            finally
            {
                if (own)
                {
                    _db.Rollback();
                }
            }
        }
    }

    internal sealed class MetaDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public long Value { get; set; }
    }
}
