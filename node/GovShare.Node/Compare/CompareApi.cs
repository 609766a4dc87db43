using System.Diagnostics;
using System.Globalization;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange;
using GovShare.Node.Exchange.ArrowInput;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Exchange.Pull;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Requests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Compare;

/// <summary>
/// Comparison without disclosure (Art. 5(3), 15): a department submits its own rows of a
/// resource; the node joins them by key with the authoritative current version inside the node
/// and answers, per compared item, how many rows agree, differ or lack a value on either side,
/// with the keys of differing rows masked as the caller's grant masks the key — never the other
/// side's values. Authorised like a pull (purpose, grant, every key and compared item), logged
/// as a <c>compare</c> exchange, routed through the tree like a pull.
/// </summary>
public static partial class CompareApi
{
    public static IServiceCollection AddGovShareCompare(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(CompareOptions.Section);
        services.Configure<CompareOptions>(section);
        services.AddSingleton<CompareGate>();
        return services;
    }

    public static IEndpointRouteBuilder MapCompareApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/resources/{code}/compare", CompareAsync).DisableRequestTimeout().RoutedByResource("code");
        return endpoints;
    }

    private static async Task CompareAsync(HttpContext context, string code, CatalogStore catalog, DatasetStore datasets, GrantStore grants, SecrecyReviewGate secrecy, CompareGate gate, IOptions<CompareOptions> options, IOptions<ExchangeOptions> exchange, NodeDataFolder data, IOptions<NodeOptions> node, LogWriter log, TimeProvider time, IServiceProvider services, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("GovShare.Node.Compare");
        var settings = options.Value;
        var exchangeId = ExchangeId.ForRequest(context, time);
        if (!log.CanAppend(LogKind.Exchange))
        {
            context.Response.Headers.RetryAfter = "5";
            await Problem.ExecuteAsync(context, 503, ProblemTypes.LogUnavailable, "The exchange log cannot be written", "The node cannot log exchanges right now (see /health/ready); try again later.", new Dictionary<string, object?> { ["exchangeId"] = exchangeId.Value });
            return;
        }

        var step = ExchangeStep.Start(context, ExchangeKind.Compare, exchangeId);
        var started = Stopwatch.GetTimestamp();
        var purpose = context.Request.Headers[GovShareHeaders.Purpose].ToString();
        step.Purpose = purpose.Length is > 0 and <= 64 ? purpose : null;
        if (purpose.Length == 0)
        {
            await ExchangeApi.Refuse(context, 400, ProblemTypes.PurposeRequired, "A purpose of use is required", $"Send the {GovShareHeaders.Purpose} header with the purpose code of your grant or use (Art. 32); a comparison is authorised like a pull.");
            return;
        }

        if (!ExchangeApi.PurposePattern.IsMatch(purpose))
        {
            await ExchangeApi.Refuse(context, 400, ProblemTypes.MalformedRequest, "Malformed purpose", $"{GovShareHeaders.Purpose} is 1 to 64 letters, digits and . _ : - only.");
            return;
        }

        if (!ResourceCode.TryFromUrl(code, out var resource))
        {
            await ExchangeApi.Refuse(context, 400, ProblemTypes.MalformedRequest, "Malformed resource code", $"'{code}' is not a resource code in URL form (<classification>-<sequence>).");
            return;
        }

        if (catalog.Get(resource) is not { Status: EntryStatus.Active } entry)
        {
            await ExchangeApi.Refuse(context, 404, ProblemTypes.NotFound, "No such resource", $"No active resource {resource} in this node's catalog.");
            return;
        }

        step.ResourceCode = entry.ResourceCode;
        step.Provider = entry.Provider.CreditCode;
        var caller = CallerIdentity.FromPrincipal(context.User)!;
        if (secrecy.Withholds(entry, caller.DivisionCode, caller.CreditCode))
        {
            // Art. 34: a comparison reads the provider's data like a pull, so it waits for the same review.
            LogCompareRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ProblemTypes.SecrecyReviewMissing);
            await ExchangeApi.Refuse(context, 403, ProblemTypes.SecrecyReviewMissing, "The resource has no secrecy review on record", SecrecyReviewGate.Detail(entry));
            return;
        }

        // Key items: named, else the catalog's; compared items: named, else every other item the caller may see.
        var keyNames = Names(context, "key");
        if (keyNames.Count == 0)
        {
            keyNames = [.. entry.Items.Where(i => i.Key).Select(i => i.Id)];
        }

        if (keyNames.Count == 0)
        {
            await ExchangeApi.Refuse(context, 409, ProblemTypes.NoKeyItems, "No key items to compare by", $"Name the key items with ?key=…; the catalog entry of {entry.ResourceCode} marks none.");
            return;
        }

        var itemNames = Names(context, "items");
        var decision = PullAuthorisation.Decide(entry, caller, purpose, [.. keyNames, .. itemNames], grants, time.GetUtcNow());
        if (!decision.Allowed)
        {
            LogCompareRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, decision.ProblemType!);
            await ExchangeApi.Refuse(context, decision.Status, decision.ProblemType!, decision.Title!, decision.Detail!);
            return;
        }

        step.GrantId = decision.Grant?.Id;
        var allowed = decision.Items!.ToDictionary(a => a.Item.Id, StringComparer.Ordinal);
        var keys = keyNames.Select(n => allowed[entry.ResolveItem(n)!.Id]).Distinct().ToList();
        var compared = itemNames.Count > 0
            ? itemNames.Select(n => allowed[entry.ResolveItem(n)!.Id]).Distinct().ToList()
            : [.. PullAuthorisation.Decide(entry, caller, purpose, [], grants, time.GetUtcNow()).Items!.Where(a => !keys.Contains(a))];
        step.Items = [.. keys.Concat(compared).Select(a => a.Item.Id)];
        if (keys.Intersect(compared).FirstOrDefault() is { } both)
        {
            await ExchangeApi.Refuse(context, 400, ProblemTypes.MalformedRequest, "An item is both key and compared", $"Item '{both.Item.Name}' ({both.Item.Id}) is a key item; name it in ?key= or ?items=, not both.");
            return;
        }

        if (compared.Count is 0 or > 64)
        {
            await ExchangeApi.Refuse(context, 400, ProblemTypes.MalformedRequest, "Name 1 to 64 items to compare", $"A comparison compares between 1 and 64 items besides its key; {compared.Count} were named or allowed.");
            return;
        }

        if (keys.Concat(compared).FirstOrDefault(a => !CompareRows.Supports(TypeOf(entry, entry.ArrowSchema(), a.Item))) is { } odd)
        {
            await ExchangeApi.Refuse(context, 400, ProblemTypes.MalformedRequest, "An item of this type cannot be compared", $"Item '{odd.Item.Name}' ({odd.Item.Id}) cannot be compared.");
            return;
        }

        if (!string.Equals(context.Request.ContentType?.Split(';')[0].Trim(), MediaTypes.ArrowStream, StringComparison.OrdinalIgnoreCase))
        {
            await ExchangeApi.Refuse(context, 415, ProblemTypes.UnsupportedMediaType, "A comparison's rows are an Arrow IPC stream", $"Send Content-Type: {MediaTypes.ArrowStream}.");
            return;
        }

        var maxBytes = settings.MaxSubmissionBytes ?? entry.MaxPushBytes ?? exchange.Value.MaxPushBytes;
        var tooLarge = $"At most {maxBytes} bytes per comparison of {entry.ResourceCode}.";
        var submission = UploadCap.Take(context, maxBytes, tooLarge);
        if (context.Request.ContentLength > maxBytes)
        {
            await ExchangeApi.Refuse(context, 413, ProblemTypes.PayloadTooLarge, "The submission is too large", tooLarge);
            return;
        }

        if (datasets.Latest(entry.ResourceCode) is not { } version)
        {
            await ExchangeApi.Refuse(context, 404, ProblemTypes.NoData, "No data has been pushed yet", $"{entry.ResourceCode} has no published version to compare with.");
            return;
        }

        // Anti-enumeration: a comparison answers whether values agree, so the guesses a department
        // may make of one resource are bounded per hour. Counted when admitted, whatever follows.
        if (gate.TryCount(caller.Uri, entry.ResourceCode, settings.MaxPerDepartmentPerHour, time.GetUtcNow()) is { } wait)
        {
            LogCompareRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ProblemTypes.CompareRateExceeded);
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            await ExchangeApi.Refuse(context, 429, ProblemTypes.CompareRateExceeded, "Too many comparisons of this resource", $"At most {settings.MaxPerDepartmentPerHour} comparisons of {entry.ResourceCode} per department in an hour (Compare:MaxPerDepartmentPerHour), so that comparisons cannot enumerate values.");
            return;
        }

        if (DiskSpace.FreeBytes(data.Path) < node.Value.MinFreeBytes)
        {
            context.Response.Headers.RetryAfter = "60";
            await ExchangeApi.Refuse(context, 507, ProblemTypes.InsufficientStorage, "The node is short of disk space", "A comparison may spill to disk; the node's data folder is below its floor. Try again later.");
            return;
        }

        if (!gate.TryEnter(settings.MaxConcurrent))
        {
            context.Response.Headers.RetryAfter = "5";
            await ExchangeApi.Refuse(context, 503, ProblemTypes.NodeBusy, "Too many comparisons in progress", $"At most {settings.MaxConcurrent} comparisons run at once; try again in a few seconds.");
            return;
        }

        var masked = keys.Concat(compared).Where(a => a.Masking.Kind != MaskingKind.None).ToList();
        // Differences in an item the caller sees only masked are counted, never listed by row.
        var listedItems = 0UL;
        for (var i = 0; i < compared.Count; i++)
        {
            listedItems |= compared[i].Masking.Kind == MaskingKind.None ? 1UL << i : 0;
        }

        var spill = Path.Combine(gate.SpillRoot(data.Path), exchangeId.Value);
        var join = new CompareJoin(compared.Count, listedItems, listNotInResource: true, settings.MemoryBytes, spill, settings.MaxListedKeys);
        var readingStored = false;
        try
        {
            var expected = entry.ArrowSchema();
            var wanted = keys.Concat(compared).ToList();
            await using (var reader = await SafeArrowReader.OpenAsync(submission, declaredLength: context.Request.ContentLength, cancellationToken: context.RequestAborted))
            {
                var (columns, mismatch) = MatchColumns(entry, expected, reader.Schema, wanted);
                if (mismatch.Count > 0)
                {
                    await ExchangeApi.Refuse(context, 400, ProblemTypes.SchemaMismatch, "The submitted columns are not the comparison's items", string.Join(" ", mismatch), new() { ["errors"] = mismatch });
                    return;
                }

                while (await reader.ReadNextBatchAsync(context.RequestAborted) is { } batch)
                {
                    using (batch)
                    {
                        join.AddSubmission([.. columns.Take(keys.Count).Select(batch.Column)], [.. columns.Skip(keys.Count).Select(batch.Column)], batch.Length);
                    }
                }
            }

            if (masked.Count > 0 && join.SubmittedRows < settings.MinRowsWithMaskedItems)
            {
                LogCompareRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ProblemTypes.CompareTooSmall);
                step.Rows = join.SubmittedRows;
                await ExchangeApi.Refuse(context, 422, ProblemTypes.CompareTooSmall, "Too few rows to compare on masked items", $"You see {string.Join(", ", masked.Select(a => $"'{a.Item.Name}' ({a.Item.Id})"))} only masked; a comparison on them needs at least {settings.MinRowsWithMaskedItems} rows (Compare:MinRowsWithMaskedItems), so that it never answers for a single row. You sent {join.SubmittedRows}.");
                return;
            }

            await using var stored = datasets.OpenRead(version);
            readingStored = true;
            var schema = await stored.ReadSchemaAsync(context.RequestAborted);
            var storedColumns = new int[wanted.Count];
            var storedProblems = new List<string>();
            for (var i = 0; i < wanted.Count; i++)
            {
                var item = wanted[i].Item;
                storedColumns[i] = schema.FieldsList.ToList().FindIndex(f => f.Metadata is { } m && m.TryGetValue(CatalogEntry.ItemIdMetadataKey, out var id) && id == item.Id);
                var want = SchemaFingerprint.TypeText(TypeOf(entry, expected, item));
                if (storedColumns[i] < 0)
                {
                    storedProblems.Add($"Version {version.Version} has no data for item '{item.Name}' ({item.Id}); the provider's next push brings it.");
                }
                else if (SchemaFingerprint.TypeText(schema.GetFieldByIndex(storedColumns[i]).DataType) != want)
                {
                    storedProblems.Add($"Version {version.Version} holds item '{item.Name}' ({item.Id}) as {SchemaFingerprint.TypeText(schema.GetFieldByIndex(storedColumns[i]).DataType)}; the catalog now says {want}.");
                }
            }

            if (storedProblems.Count > 0)
            {
                await ExchangeApi.Refuse(context, 409, ProblemTypes.NoData, "The current version cannot be compared on these items", string.Join(" ", storedProblems));
                return;
            }

            await foreach (var batch in stored.ReadBatchesAsync(context.RequestAborted))
            {
                using (batch)
                {
                    join.AddResource([.. storedColumns.Take(keys.Count).Select(batch.Column)], [.. storedColumns.Skip(keys.Count).Select(batch.Column)], batch.Length);
                }
            }

            var result = join.Finish(context.RequestAborted);
            var listedKeys = RenderKeys(result.Listed, keys, [.. compared.Select(a => a.Item.Id)], expected, entry, caller, services);
            step.Rows = result.SubmittedRows;
            step.Bytes = context.Request.ContentLength ?? 0;
            // The version compared with, so that an inconsistency case opened from this comparison names it (Art. 27).
            step.Diff = System.Text.Json.JsonSerializer.SerializeToElement(new { version = version.Version });
            await step.RecordAsync(StatusCodes.Status200OK);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogCompared(logger, exchangeId.Value, entry.ResourceCode, version.Version, result.SubmittedRows, result.ResourceRows, result.RowsInBoth, result.DifferingRows, result.SpilledPartitions, caller.Uri, elapsed);
            await TypedResults.Ok(new CompareReceipt(
                exchangeId.Value,
                entry.ResourceCode,
                version.Version,
                [.. keys.Select(k => new CompareItem(k.Item.Id, k.Item.Name, k.Masking.Kind == MaskingKind.None ? null : ItemProjection.MaskingName(k.Masking)))],
                result.SubmittedRows,
                result.ResourceRows,
                result.RowsInBoth,
                result.OnlyInSubmission,
                result.OnlyInResource,
                result.DuplicateKeysInResource,
                [.. compared.Select((a, i) => new CompareItemCounts(a.Item.Id, a.Item.Name, a.Masking.Kind == MaskingKind.None, result.Items[i].Matched, result.Items[i].Differing, result.Items[i].MissingInResource, result.Items[i].MissingInSubmission))],
                result.DifferingRows,
                [.. listedKeys.Where(k => k.Items is not null).Select(k => new DifferingKey(k.Key, k.Items!))],
                [.. listedKeys.Where(k => k.Items is null).Select(k => k.Key)],
                result.ListedOmitted)).ExecuteAsync(context);
        }
        catch (CompareInputException ex)
        {
            LogCompareRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ex.Code);
            step.Rows = join.SubmittedRows;
            await ExchangeApi.Refuse(context, 400, ProblemTypes.InvalidCompareKey, "The submission's keys are not one per row", ex.Message, new() { ["code"] = ex.Code });
        }
        catch (ArrowInputException ex) when (ex.InnerException is BadHttpRequestException body)
        {
            // Over the cap, cut off or too slow: the log says how many rows had arrived.
            step.Rows = join.SubmittedRows;
            await UploadRefusal.Refuse(context, body, "The submission is too large", "The submission was not received whole");
        }
        catch (ArrowInputException ex) when (!readingStored)
        {
            LogCompareRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ex.Code);
            await step.RecordAsync(StatusCodes.Status400BadRequest, ProblemTypes.InvalidArrowStream);
            await ExchangeProblems.InvalidArrowStream(ex, exchangeId).ExecuteAsync(context);
        }
        catch (Exception ex) when (ex is ArrowInputException or IOException && readingStored && !context.RequestAborted.IsCancellationRequested && !DiskSpace.IsFull(ex))
        {
            LogCompareFailed(logger, exchangeId.Value, entry.ResourceCode, ex is ArrowInputException input ? input.Code : ex.GetType().Name);
            await ExchangeApi.Refuse(context, 500, ProblemTypes.DatasetUnreadable, "The stored version cannot be read", $"Version {version.Version} of {entry.ResourceCode} could not be read back; the operator has been told through the node's log.");
        }
        catch (BadHttpRequestException ex)
        {
            await UploadRefusal.Refuse(context, ex, "The submission is too large", "The submission was not received whole");
        }
        catch (LogUnavailableException ex)
        {
            await ExchangeApi.Refuse(context, 503, ProblemTypes.LogUnavailable, "The exchange log cannot be written", ex.Message);
        }
        catch (Exception ex) when (DiskSpace.IsFull(ex))
        {
            context.Response.Headers.RetryAfter = "60";
            await ExchangeApi.Refuse(context, 507, ProblemTypes.InsufficientStorage, "The node ran out of disk space", "The comparison's spill files could not be written; nothing was kept. Try again later.");
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            LogCompareAborted(logger, exchangeId.Value, entry.ResourceCode);
            step.Rows = join.SubmittedRows;
            await step.RecordAsync(ClientClosedRequest);
        }
        finally
        {
            // The spill files go on every way out: success, refusal, failure, the client gone.
            join.Dispose();
            gate.Exit();
        }
    }

    /// <summary>The listed keys rendered as the caller may see the key items: masked by its grant (or the catalog's default).</summary>
    private static List<(Dictionary<string, object?> Key, IReadOnlyList<string>? Items)> RenderKeys(IReadOnlyList<ListedKey> listed, List<AllowedItem> keys, IReadOnlyList<string> comparedIds, Schema expected, CatalogEntry entry, CallerIdentity caller, IServiceProvider services)
    {
        var output = new List<(Dictionary<string, object?>, IReadOnlyList<string>?)>(listed.Count);
        if (listed.Count == 0)
        {
            return output;
        }

        var fields = keys.Select(k => new Field(k.Item.Id, TypeOf(entry, expected, k.Item), true)).ToList();
        var parts = listed.Select(l => CompareRows.KeyParts(l.Key)).ToList();
        var arrays = fields.Select((f, c) => KeyArray(f.DataType, parts.Select(p => p[c]).ToList())).ToList();
        using var batch = new RecordBatch(new Schema(fields, null), arrays, listed.Count);
        var secret = keys.Any(k => k.Masking.Kind == MaskingKind.Pseudonym) ? PseudonymKey.Derive(services.GetRequiredService<PseudonymSecretHolder>().Secret, caller.Uri) : null;
        using var projection = ItemProjection.Create(batch.Schema, [.. keys.Select(k => new ProjectedItem(k.Item.Id, k.Item.Name, k.Masking))], secret);
        using var masked = projection.Project(batch);
        for (var row = 0; row < listed.Count; row++)
        {
            var key = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var c = 0; c < keys.Count; c++)
            {
                key[keys[c].Item.Name] = TextRepresentation.Value(masked.Column(c), row);
            }

            output.Add((key, listed[row].NotInResource ? null : Bits(listed[row].DifferingItems)));
        }

        return output;

        IReadOnlyList<string> Bits(ulong bits) => [.. Enumerable.Range(0, comparedIds.Count).Where(i => (bits & (1UL << i)) != 0).Select(i => comparedIds[i])];
    }

    /// <summary>An Arrow array of one key item from its value bytes (the inverse of <see cref="CompareRows"/>).</summary>
    private static IArrowArray KeyArray(IArrowType type, List<byte[]> values)
    {
        switch (type)
        {
            case StringType:
                var strings = new StringArray.Builder();
                values.ForEach(v => strings.Append(Encoding.UTF8.GetString(v)));
                return strings.Build();
            case BinaryType:
                var binary = new BinaryArray.Builder();
                values.ForEach(v => binary.Append(v.AsSpan()));
                return binary.Build();
            case BooleanType:
                var booleans = new BooleanArray.Builder();
                values.ForEach(v => booleans.Append(v[0] == 1));
                return booleans.Build();
            default:
                var bytes = values.SelectMany(v => v).ToArray();
                return ArrowArrayFactory.BuildArray(new ArrayData(type, values.Count, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(bytes)]));
        }
    }

    /// <summary>
    /// Matches each submitted column to one of the comparison's items (by name or id, as pushes
    /// are) and checks its type; returns, per wanted item in order, its column; or every difference.
    /// </summary>
    private static (int[] Columns, List<string> Errors) MatchColumns(CatalogEntry entry, Schema expected, Schema submitted, List<AllowedItem> wanted)
    {
        var errors = new List<string>();
        var columns = Enumerable.Repeat(-1, wanted.Count).ToArray();
        for (var c = 0; c < submitted.FieldsList.Count; c++)
        {
            var field = submitted.FieldsList[c];
            var item = entry.ResolveItem(field.Name);
            var i = item is null ? -1 : wanted.FindIndex(a => a.Item.Id == item.Id);
            if (i < 0)
            {
                errors.Add($"Column '{field.Name}' is not a key or compared item of this comparison.");
                continue;
            }

            if (columns[i] >= 0)
            {
                errors.Add($"Columns '{submitted.FieldsList[columns[i]].Name}' and '{field.Name}' are both item '{item!.Name}' ({item.Id}).");
                continue;
            }

            columns[i] = c;
            var want = SchemaFingerprint.TypeText(TypeOf(entry, expected, item!));
            if (SchemaFingerprint.TypeText(field.DataType) != want)
            {
                errors.Add($"Column '{field.Name}' is {SchemaFingerprint.TypeText(field.DataType)}; the catalog says {want}.");
            }
        }

        for (var i = 0; i < wanted.Count; i++)
        {
            if (columns[i] < 0)
            {
                errors.Add($"Missing column for item '{wanted[i].Item.Name}' ({wanted[i].Item.Id}).");
            }
        }

        return (columns, errors);
    }

    /// <summary>The catalog's Arrow type of <paramref name="item"/> (<paramref name="expected"/> is the entry's schema, in item order).</summary>
    private static IArrowType TypeOf(CatalogEntry entry, Schema expected, InformationItem item)
    {
        for (var i = 0; i < entry.Items.Count; i++)
        {
            if (entry.Items[i].Id == item.Id)
            {
                return expected.GetFieldByIndex(i).DataType;
            }
        }

        throw new ArgumentException($"Item {item.Id} is not an item of {entry.ResourceCode}.", nameof(item));
    }

    private static List<string> Names(HttpContext context, string parameter) =>
        [.. context.Request.Query[parameter].SelectMany(v => (v ?? "").Split(',')).Select(v => v.Trim()).Where(v => v.Length > 0)];

    private const int ClientClosedRequest = 499;

    [LoggerMessage(EventId = 4201, EventName = "Compared", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: comparison with {ResourceCode} v{Version}: {Submitted} rows submitted, {ResourceRows} held, {InBoth} in both, {Differing} differing rows listed; {Partitions} spill partitions; by {Caller} in {Milliseconds} ms")]
    private static partial void LogCompared(ILogger logger, string exchangeId, string resourceCode, int version, long submitted, long resourceRows, long inBoth, long differing, int partitions, string caller, double milliseconds);

    [LoggerMessage(EventId = 4202, EventName = "CompareRefused", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: comparison with {ResourceCode} by {Caller} refused: {Code}")]
    private static partial void LogCompareRefused(ILogger logger, string exchangeId, string resourceCode, string caller, string code);

    [LoggerMessage(EventId = 4203, EventName = "CompareAborted", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: comparison with {ResourceCode} broke off by the client; its spill files were removed")]
    private static partial void LogCompareAborted(ILogger logger, string exchangeId, string resourceCode);

    [LoggerMessage(EventId = 4204, EventName = "CompareFailed", Level = LogLevel.Error, Message = "Exchange {ExchangeId}: comparison with {ResourceCode} failed reading the stored version: {Cause}")]
    private static partial void LogCompareFailed(ILogger logger, string exchangeId, string resourceCode, string cause);
}

/// <summary>A key item of a comparison; <see cref="Masking"/> is how its listed values are masked for the caller (null: not masked).</summary>
public sealed record CompareItem(string Item, string Name, string? Masking);

/// <summary>One compared item's counts over the rows both sides hold. <see cref="Listed"/>: whether a difference in it lists the row's key (an item the caller may see unmasked).</summary>
public sealed record CompareItemCounts(string Item, string Name, bool Listed, long Matched, long Differing, long MissingInResource, long MissingInSubmission);

/// <summary>A row in both whose listed items differ: its key (masked for the caller) and those items' ids.</summary>
public sealed record DifferingKey(IReadOnlyDictionary<string, object?> Key, IReadOnlyList<string> Items);

/// <summary>What a comparison answers.</summary>
public sealed record CompareReceipt(
    string ExchangeId,
    string ResourceCode,
    int Version,
    IReadOnlyList<CompareItem> KeyItems,
    long SubmittedRows,
    long ResourceRows,
    long RowsInBoth,
    long OnlyInSubmission,
    long OnlyInResource,
    long DuplicateKeysInResource,
    IReadOnlyList<CompareItemCounts> Items,
    long DifferingRows,
    IReadOnlyList<DifferingKey> DifferingKeys,
    IReadOnlyList<IReadOnlyDictionary<string, object?>> NotInResourceKeys,
    long KeysOmitted);
