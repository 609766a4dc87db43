using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters;

/// <summary>An information item as the node's catalog entry describes it (element 8).</summary>
public sealed record CatalogItem(string Id, string Name, string DataType, int? Length, bool Nullable, bool Key = false);

/// <summary>
/// Checks a department's data against the resource's catalog entry, fetched from the node before
/// anything is uploaded: every mapped item exists, with the catalog's type (decimal precision and
/// scale included), every item is mapped, required items have a value and text fits the item's
/// length. Finds before the upload what the node would otherwise refuse after it, and names the
/// row and the item.
/// </summary>
public sealed class CatalogCheck
{
    private readonly string _resourceCode;
    private readonly IReadOnlyList<CatalogItem> _items;

    /// <summary>A comparison's check (<see cref="Subset"/>): its faults are said as a comparison's, not a push's.</summary>
    private readonly bool _comparison;

    public CatalogCheck(string resourceCode, IReadOnlyList<CatalogItem> items)
        : this(resourceCode, items, comparison: false)
    {
    }

    private CatalogCheck(string resourceCode, IReadOnlyList<CatalogItem> items, bool comparison)
    {
        _resourceCode = resourceCode;
        _items = items;
        _comparison = comparison;
    }

    public IReadOnlyList<CatalogItem> Items => _items;

    /// <summary>
    /// Whether <paramref name="keyItems"/> (names or ids, as a sync's <c>--key</c>) are exactly the
    /// entry's key items, so the node's merge matches rows by the same key as the sync.
    /// </summary>
    public bool HasKeyItems(IReadOnlyList<string> keyItems)
    {
        ArgumentNullException.ThrowIfNull(keyItems);
        var catalogKeys = _items.Where(i => i.Key).Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var named = keyItems.Select(k => _items.FirstOrDefault(i => Same(i.Id, k)) ?? _items.FirstOrDefault(i => Same(i.Name, k))).ToList();
        return catalogKeys.Count > 0 && named.All(i => i is not null) && named.Select(i => i!.Id).ToHashSet(StringComparer.Ordinal).SetEquals(catalogKeys);

        static bool Same(string a, string b) => string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The check of a part of the entry: only <paramref name="namesOrIds"/> (a comparison sends its
    /// key and compared items, not the whole resource), each then required exactly once.
    /// </summary>
    /// <exception cref="CatalogCheckException">A name that is no item of the entry.</exception>
    public CatalogCheck Subset(IEnumerable<string> namesOrIds)
    {
        var chosen = new List<CatalogItem>();
        var errors = new List<string>();
        foreach (var name in namesOrIds)
        {
            if (Resolve(name) is not { } item)
            {
                errors.Add($"'{name}' is not an item of {_resourceCode}; its items are {string.Join(", ", _items.Select(i => $"{i.Id} ({i.Name})"))}.");
            }
            else if (!chosen.Contains(item))
            {
                chosen.Add(item);
            }
        }

        return errors.Count > 0 ? throw new CatalogCheckException(_resourceCode, errors, comparison: true) : new CatalogCheck(_resourceCode, chosen, comparison: true);
    }

    /// <summary>Whether a source column is one of this check's items (by id or name, as the node resolves them).</summary>
    public bool Covers(string column) => Resolve(column) is not null;

    /// <summary>The item a source column is (by id or name, as the node resolves them), or null.</summary>
    public CatalogItem? ItemFor(string column) => Resolve(column);

    /// <summary>Reads the items of a catalog entry answer (<c>GET v1/catalog/{code}</c>).</summary>
    public static CatalogCheck FromEntry(string resourceCode, JsonElement entry)
    {
        var items = new List<CatalogItem>();
        if (entry.TryGetProperty("items", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray())
            {
                items.Add(new CatalogItem(
                    item.GetProperty("id").GetString() ?? "",
                    item.TryGetProperty("name", out var name) ? name.GetString() ?? "" : "",
                    item.TryGetProperty("dataType", out var type) ? type.GetString() ?? "utf8" : "utf8",
                    item.TryGetProperty("length", out var length) && length.ValueKind == JsonValueKind.Number ? length.GetInt32() : null,
                    !item.TryGetProperty("nullable", out var nullable) || nullable.ValueKind != JsonValueKind.False,
                    item.TryGetProperty("key", out var key) && key.ValueKind == JsonValueKind.True));
            }
        }

        return new CatalogCheck(resourceCode, items);
    }

    /// <summary>
    /// The pushed schema against the entry, every fault at once: unknown items (with the entry's
    /// items listed), types that differ, items mapped twice or not at all.
    /// </summary>
    public IReadOnlyList<string> CheckSchema(Schema pushed)
    {
        var errors = new List<string>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in pushed.FieldsList)
        {
            if (Resolve(field.Name) is not { } item)
            {
                errors.Add($"'{field.Name}' is not an item of {_resourceCode}; its items are {string.Join(", ", _items.Select(i => $"{i.Id} ({i.Name})"))}.");
                continue;
            }

            if (!seen.TryAdd(item.Id, field.Name))
            {
                errors.Add($"'{seen[item.Id]}' and '{field.Name}' are both item {item.Id} ({item.Name}).");
                continue;
            }

            var mapped = ItemDataType.FromArrow(field.DataType)?.ToString() ?? field.DataType.Name;
            var catalogued = ItemDataType.Parse(item.DataType, out _)?.ToString() ?? item.DataType;
            if (!string.Equals(mapped, catalogued, StringComparison.Ordinal))
            {
                errors.Add($"Item {item.Id} ({item.Name}) is {mapped} in {(_comparison ? "your copy" : "the mapping")}; the catalog says {catalogued}.");
            }
        }

        errors.AddRange(_items.Where(i => !seen.ContainsKey(i.Id)).Select(i => _comparison
            ? $"Item {i.Id} ({i.Name}) is not a column of your copy: the key and the compared items must be."
            : $"Item {i.Id} ({i.Name}, {i.DataType}) is not mapped: every item of {_resourceCode} is pushed."));
        return errors;
    }

    /// <summary>
    /// Passes the batches through, checking every value: a null in a required item and text longer
    /// than its item's length are collected with their row (1-based, in read order); at the end
    /// the errors, if any, are thrown as a <see cref="ConversionFailedException"/>.
    /// </summary>
    /// <exception cref="CatalogCheckException">The schema does not match the entry.</exception>
    public async IAsyncEnumerable<RecordBatch> CheckAsync(IAsyncEnumerable<RecordBatch> batches, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var errors = new ConversionErrors();
        long offset = 0;
        (int Column, CatalogItem Item)[]? rules = null;
        await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
        {
            if (rules is null)
            {
                var schemaErrors = CheckSchema(batch.Schema);
                if (schemaErrors.Count > 0)
                {
                    throw new CatalogCheckException(_resourceCode, schemaErrors, _comparison);
                }

                rules = [.. batch.Schema.FieldsList.Select((f, c) => (c, Resolve(f.Name)!)).Where(r => !r.Item2.Nullable || r.Item2.Length is not null)];
            }

            foreach (var (column, item) in rules)
            {
                var array = batch.Column(column);
                if (!item.Nullable && array.NullCount > 0)
                {
                    for (var r = 0; r < array.Length; r++)
                    {
                        if (array.IsNull(r))
                        {
                            errors.Add(ConversionError.Create(offset + r + 1, $"{item.Id} ({item.Name})", null, "is empty, but the item is required"));
                        }
                    }
                }

                if (item.Length is { } max && array is StringArray text)
                {
                    for (var r = 0; r < text.Length; r++)
                    {
                        // Characters as the node counts them (Unicode scalar values: UTF-8 lead bytes),
                        // from the bytes: no string per value, and most values have no more bytes than the limit.
                        var bytes = text.GetBytes(r);
                        if (bytes.Length > max && !text.IsNull(r) && Scalars(bytes) is var length && length > max)
                        {
                            errors.Add(ConversionError.Create(offset + r + 1, $"{item.Id} ({item.Name})", text.GetString(r), $"has {length} characters; the item holds at most {max}"));
                        }
                    }
                }
            }

            offset += batch.Length;
            if (!errors.Any)
            {
                yield return batch;
            }
        }

        errors.ThrowIfAny();
    }

    /// <summary>
    /// As <see cref="CheckAsync(IAsyncEnumerable{RecordBatch}, CancellationToken)"/>, with the entry
    /// still being fetched: the source opens and reads its first batch (a database connection and
    /// its query's schema, or the first rows of a file) while <paramref name="entry"/> is fetched,
    /// instead of after it. No batch is handed out before the entry is there and the batch passed
    /// the check. When both fail, the entry's failure is the one thrown (the node unreachable or
    /// refusing, or no such resource), as when the entry was fetched first.
    /// </summary>
    public static async IAsyncEnumerable<RecordBatch> CheckAsync(Task<CatalogCheck> entry, IAsyncEnumerable<RecordBatch> batches, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(batches);
        // Stops the source when the entry fails: a file whose rows all fail would otherwise be
        // scanned to its end before the node's failure is reported.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var source = batches.GetAsyncEnumerator(stop.Token);
        await using (source.ConfigureAwait(false))
        {
            // On the thread pool: a file source converts its first batch without awaiting anything.
            var first = Task.Run(() => source.MoveNextAsync().AsTask(), cancellation);
            CatalogCheck check;
            try
            {
                check = await entry.ConfigureAwait(false);
            }
            catch
            {
                // The source must be idle before it is disposed; its own failure is second to the entry's.
                await stop.CancelAsync().ConfigureAwait(false);
                await first.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                throw;
            }

            var any = await first.ConfigureAwait(false);
            await foreach (var batch in check.CheckAsync(Rest(source, any), cancellation).ConfigureAwait(false))
            {
                yield return batch;
            }
        }

        static async IAsyncEnumerable<RecordBatch> Rest(IAsyncEnumerator<RecordBatch> source, bool any)
        {
            for (var more = any; more; more = await source.MoveNextAsync().ConfigureAwait(false))
            {
                yield return source.Current;
            }
        }
    }

    private static int Scalars(ReadOnlySpan<byte> utf8)
    {
        var count = 0;
        foreach (var b in utf8)
        {
            count += (b & 0xC0) != 0x80 ? 1 : 0;
        }

        return count;
    }

    /// <summary>A source whose batches pass this check on their way out.</summary>
    public IRecordSource Wrap(IRecordSource source) => new CheckedSource(source, this);

    private CatalogItem? Resolve(string nameOrId)
    {
        var key = Canonical(nameOrId);
        return _items.FirstOrDefault(i => Canonical(i.Id) == key) ?? _items.FirstOrDefault(i => Canonical(i.Name) == key);
    }

    /// <summary>As the node compares item names: NFKC, trimmed, invariant lower case.</summary>
    private static string Canonical(string text) => text.Normalize(NormalizationForm.FormKC).Trim().ToLowerInvariant();
}

internal sealed class CheckedSource(IRecordSource inner, CatalogCheck check) : IRecordSource
{
    public IAsyncEnumerable<RecordBatch> ReadAsync(CancellationToken cancellation = default) => check.CheckAsync(inner.ReadAsync(cancellation), cancellation);
}

/// <summary>
/// The data's items do not match the resource's catalog entry: a mapping to fix (exit 2). Found
/// before anything is sent, so nothing was pushed — or, for a comparison, nothing was compared.
/// </summary>
public sealed class CatalogCheckException(string resourceCode, IReadOnlyList<string> errors, bool comparison = false)
    : Exception((comparison ? $"Your copy does not match the catalog entry of {resourceCode}; nothing was compared:" : $"The mapping does not match the catalog entry of {resourceCode}; nothing was pushed:")
        + $"{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", errors)}")
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
