using System.Linq.Expressions;
using System.Reflection;
using LiteDB;

namespace GovShare.Node.Kernel;

/// <summary>
/// A collection of node-state documents, whatever keeps them: LiteDB (the embedded default) or
/// PostgreSQL (several replicas, issue 19). A document is a plain class with a key (the property
/// marked <c>[BsonId]</c>, else <c>Id</c>) and a few fields declared as indexes when the
/// collection is opened; the stores look documents up by key or by equality on one of those
/// fields, which both backends answer from an index. Anything richer is filtered in memory by the
/// caller: the stores keep their hot reads in snapshots, not in queries.
/// </summary>
/// <remarks>
/// Why this small shape and not LINQ: a query language both backends translate the same way is a
/// project of its own; equality on a declared index, plus "after this numeric key" for the change
/// streams, is all the stores ask. New state added later gets both backends by opening a
/// collection through <see cref="IStateStore.Collection{T}"/>.
/// Inside <see cref="IStateStore.Write{T}(Func{T})"/> every call joins the state change's
/// transaction (and sees its own uncommitted writes); outside one, each call stands alone.
/// </remarks>
public interface IStateDocuments<T>
    where T : class
{
    /// <summary>The collection's name (a LiteDB collection, or the <c>collection</c> column in PostgreSQL).</summary>
    string Name { get; }

    /// <summary>The document with this key, or null.</summary>
    T? Find(object key);

    /// <summary>Every document (in key order).</summary>
    IReadOnlyList<T> All();

    /// <summary>The documents whose indexed <paramref name="field"/> equals <paramref name="value"/>, in no promised order (LiteDB: the index's).</summary>
    IReadOnlyList<T> Where(Expression<Func<T, object>> field, object value);

    /// <summary>Inserts or replaces the document under its key.</summary>
    void Put(T document);

    /// <summary>
    /// Inserts the document unless one with its key exists: false then, and nothing changes. What a
    /// publication needs when two writers (two replicas) may pick the same key.
    /// </summary>
    bool Add(T document);

    /// <summary>Inserts or replaces every document, in one call.</summary>
    void PutMany(IEnumerable<T> documents);

    /// <summary>Removes the document with this key; false when there was none.</summary>
    bool Delete(object key);

    /// <summary>Removes every document whose indexed <paramref name="field"/> equals <paramref name="value"/>.</summary>
    int DeleteWhere(Expression<Func<T, object>> field, object value);

    /// <summary>
    /// For a collection keyed by a number (the change streams): documents with a key above
    /// <paramref name="afterKey"/>, ascending, at most <paramref name="limit"/>, optionally only
    /// those whose indexed <paramref name="field"/> equals <paramref name="value"/>.
    /// </summary>
    IReadOnlyList<T> After(long afterKey, int limit, Expression<Func<T, object>>? field = null, object? value = null);

    /// <summary>For a collection keyed by a number: the highest key, 0 when empty.</summary>
    long MaxKey();
}

/// <summary>What both backends need to know of a document type: its key and its indexed fields by member name.</summary>
internal static class DocumentShape
{
    /// <summary>The key property: the one marked <c>[BsonId]</c>, else <c>Id</c> (LiteDB's own rule).</summary>
    public static PropertyInfo Key(Type type)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        return properties.FirstOrDefault(p => p.GetCustomAttribute<BsonIdAttribute>() is not null)
            ?? properties.FirstOrDefault(p => p.Name == "Id")
            ?? throw new ArgumentException($"{type.Name}: a state document needs a key ([BsonId] or Id).");
    }

    /// <summary>The members index expressions name.</summary>
    public static HashSet<string> Members<T>(IEnumerable<Expression<Func<T, object>>> fields) =>
        fields.Select(f => Member(f)).ToHashSet(StringComparer.Ordinal);

    /// <summary>The member an index expression names (<c>d => d.User</c>: <c>User</c>).</summary>
    public static string Member<T>(Expression<Func<T, object>> field)
    {
        ArgumentNullException.ThrowIfNull(field);
        var body = field.Body is UnaryExpression { NodeType: ExpressionType.Convert } convert ? convert.Operand : field.Body;
        return body is MemberExpression { Expression: ParameterExpression } member
            ? member.Member.Name
            : throw new ArgumentException($"An index names one field of the document (d => d.Field), not '{field}'.", nameof(field));
    }
}

/// <summary>A collection in the embedded LiteDB state (the documents' existing BSON form, so data folders written before this seam read as before).</summary>
internal sealed class LiteStateDocuments<T>(ILiteCollection<T> collection, IReadOnlySet<string> indexes) : IStateDocuments<T>
    where T : class
{
    public string Name => collection.Name;

    public T? Find(object key) => collection.FindById(new BsonValue(key));

    public IReadOnlyList<T> All() => [.. collection.FindAll()];

    public IReadOnlyList<T> Where(Expression<Func<T, object>> field, object value) =>
        [.. collection.Find(LiteDB.Query.EQ(Field(field), new BsonValue(value)))];

    public void Put(T document) => collection.Upsert(document);

    public void PutMany(IEnumerable<T> documents) => collection.Upsert(documents);

    public bool Add(T document)
    {
        try
        {
            collection.Insert(document);
            return true;
        }
        catch (LiteException ex) when (ex.ErrorCode == LiteException.INDEX_DUPLICATE_KEY)
        {
            return false;
        }
    }

    public bool Delete(object key) => collection.Delete(new BsonValue(key));

    public int DeleteWhere(Expression<Func<T, object>> field, object value) =>
        collection.DeleteMany(LiteDB.Query.EQ(Field(field), new BsonValue(value)));

    public IReadOnlyList<T> After(long afterKey, int limit, Expression<Func<T, object>>? field = null, object? value = null)
    {
        var query = collection.Query().Where(LiteDB.Query.GT("_id", afterKey));
        if (field is not null)
        {
            query = query.Where(LiteDB.Query.EQ(Field(field), new BsonValue(value)));
        }

        return [.. query.OrderBy("_id").Limit(limit).ToEnumerable()];
    }

    public long MaxKey() =>
        collection.Query().OrderByDescending("_id").Limit(1).FirstOrDefault() is { } last
            ? Convert.ToInt64(DocumentShape.Key(typeof(T)).GetValue(last), System.Globalization.CultureInfo.InvariantCulture)
            : 0;

    private string Field(Expression<Func<T, object>> field)
    {
        var name = DocumentShape.Member(field);
        if (!indexes.Contains(name))
        {
            // Same rule as PostgreSQL, so a store tested on LiteDB does not scan on PostgreSQL.
            throw new ArgumentException($"collection {Name}: {name} is not one of its indexes.", nameof(field));
        }

        // The BSON name: [BsonField]'s when given (the state mappers use no naming policy).
        return typeof(T).GetProperty(name)?.GetCustomAttribute<BsonFieldAttribute>()?.Name ?? name;
    }
}
