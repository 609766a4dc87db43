using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
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
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Exchange;

/// <summary>What a push answers. <see cref="Rows"/> and <see cref="Bytes"/> are the new version's.</summary>
public sealed record PushReceipt(string ExchangeId, string ResourceCode, int Version, long Rows, long Bytes, PushMode Mode)
{
    /// <summary>The stated source-change time and Art. 16's measure of it; absent when the push stated none.</summary>
    public SourceChangeReceipt? SourceChange { get; init; }

    /// <summary>What a merge push did; absent for the other modes.</summary>
    public MergeReceipt? Merge { get; init; }
}

/// <summary>
/// Art. 16 measured from the source: the data changed at <paramref name="ChangedAt"/>; it was due on
/// the platform by <paramref name="UpdateDue"/> (10 working days later, China time); <paramref name="Late"/> when pushed after that day.
/// </summary>
public sealed record SourceChangeReceipt(DateTimeOffset ChangedAt, DateOnly UpdateDue, bool DueProvisional, bool Late)
{
    /// <summary>Working days from a change at the source to its update on the platform (Art. 16).</summary>
    public const int UpdateWorkingDays = 10;

    public static SourceChangeReceipt Measure(DateTimeOffset changedAt, DateTimeOffset pushedAt, WorkingDayCalendar calendar)
    {
        ArgumentNullException.ThrowIfNull(calendar);
        var due = calendar.AddWorkingDays(WorkingDayCalendar.ToChinaDate(changedAt), UpdateWorkingDays, out var provisional);
        return new SourceChangeReceipt(changedAt, due, provisional, WorkingDayCalendar.ToChinaDate(pushedAt) > due);
    }
}

/// <summary>What a merge push did.</summary>
/// <param name="Upserts">Upsert rows in the push.</param>
/// <param name="Deletes">Delete rows in the push.</param>
/// <param name="Replaced">Rows of the previous version an upsert took the place of (the other upserts were added).</param>
/// <param name="Deleted">Rows of the previous version a delete removed (the other deletes named no row).</param>
public sealed record MergeReceipt(long Upserts, long Deletes, long Replaced, long Deleted);

/// <summary>
/// The exchange endpoints: a provider pushes an Arrow IPC stream of its resource; a user pulls
/// the information items it may see, masked. Both stream batch by batch in bounded memory.
/// </summary>
public static partial class ExchangeApi
{
    /// <summary>What a purpose code may hold: the pull's and the comparison's check.</summary>
    internal static readonly Regex PurposePattern = PurposeRegex();

    public static IServiceCollection AddGovShareExchangeApi(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(ExchangeOptions.Section);
        services.Configure<ExchangeOptions>(section);
        var options = section.Get<ExchangeOptions>() ?? new ExchangeOptions();
        services.AddGovShareExchange(new DatasetStoreOptions
        {
            KeepVersions = options.KeepVersions,
            FolderName = string.IsNullOrWhiteSpace(options.DatasetPath) ? "datasets" : Path.GetFullPath(options.DatasetPath),
            // A shared folder holds other replicas' pushes in progress: only long-untouched leftovers are strays.
            StrayAge = string.IsNullOrWhiteSpace(options.DatasetPath) ? null : TimeSpan.FromMinutes(10),
        });
        services.TryAddSingleton<GrantStore>();
        services.TryAddSingleton<IPublishedVersions, DatasetPublishedVersions>();
        services.AddSingleton(new PushGate(options.MaxConcurrentPushes, options.MaxConcurrentPushesPerDepartment));
        services.AddSingleton(new SecrecyReviewGate(options.SecrecyReviewRequired));
        services.AddSingleton(new PullAnswerCache(options.AnswerCacheBytes));
        services.AddSingleton<ExchangeLogger>();
        services.AddSingleton<PullServices>();
        // One secret per node, not per replica: the replicas share the dataset folder, so it lives
        // there (whoever can read that folder holds the raw data the pseudonyms stand for anyway).
        services.AddSingleton(provider => new PseudonymSecretHolder(PseudonymSecret.LoadOrCreate(
            string.IsNullOrWhiteSpace(options.DatasetPath) ? provider.GetRequiredService<NodeDataFolder>().Path : Directory.CreateDirectory(Path.GetFullPath(options.DatasetPath)).FullName)));
        return services;
    }

    public static IEndpointRouteBuilder MapExchangeApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/resources/{code}/data", PushAsync).DisableRequestTimeout().RoutedByResource("code");
        // A plain request delegate over services taken once: as a route handler with its services as
        // parameters, each pull looked each of them up in the request's services (eleven look-ups,
        // ~0.35 us a one-row pull, and a DI scope a pull: its feature and dictionary; profile-small-
        // exchanges.txt, fix/feat19, fix/alloc19). They are singletons, so the first pull's are every
        // pull's, taken from the node's services; the route value is read as the handler's binding read it.
        var root = endpoints.ServiceProvider;
        PullServices? pull = null;
        endpoints.MapGet("/v1/resources/{code}/data", context =>
        {
            var code = context.Request.RouteValues["code"] as string ?? "";
            return PullAsync(context, code, pull ??= root.GetRequiredService<PullServices>());
        }).DisableRequestTimeout().RoutedByResource("code");
        endpoints.MapGet("/v1/resources/{code}/versions", Versions);
        return endpoints;
    }

    /// <summary>The least a push body read gathers before it returns (or what it asked for, if less).</summary>
    internal const int PushReadBytes = 128 * 1024;

    private static async Task PushAsync(HttpContext context, string code, CatalogStore catalog, DatasetStore datasets, PushGate gate, IOptions<ExchangeOptions> options, NodeDataFolder data, IOptions<NodeOptions> node, LogWriter log, TimeProvider time, WorkingDayCalendar calendar, ExchangeLogger loggers)
    {
        var logger = loggers.Logger;
        var exchangeId = ExchangeId.ForRequest(context, time);
        var step = ExchangeStep.Start(context, ExchangeKind.Push, exchangeId);
        var started = Stopwatch.GetTimestamp();
        if (await ResolveAsync(context, code, catalog) is not { } entry)
        {
            return;
        }

        step.ResourceCode = entry.ResourceCode;
        step.Provider = entry.Provider.CreditCode;
        var caller = CallerIdentity.FromPrincipal(context.User)!;
        if (!entry.Provider.SameAs(caller.DivisionCode, caller.CreditCode))
        {
            await Refuse(context, 403, ProblemTypes.NotProvider, "Only the resource's source department may push", $"{entry.ResourceCode} is provided by {entry.Provider.Key} (Art. 13: one datum, one source).");
            return;
        }

        var modeText = context.Request.Query["mode"].ToString();
        if (!TryParseMode(modeText, out var mode))
        {
            await Refuse(context, 400, ProblemTypes.MalformedRequest, "Unknown push mode", $"mode must be 'replace', 'append' or 'merge', not '{modeText}'.");
            return;
        }

        step.Mode = ModeText(mode);

        // Art. 16: the department may state when the data changed at its source; lateness runs from it.
        DateTimeOffset? sourceChangedAt = null;
        var stated = context.Request.Headers[GovShareHeaders.SourceChangedAt].ToString();
        if (stated.Length > 0)
        {
            if (!TryParseInstant(stated, out var changed))
            {
                await Refuse(context, 400, ProblemTypes.MalformedRequest, "Malformed source-change time", $"{GovShareHeaders.SourceChangedAt} is an RFC 3339 instant with its offset, e.g. 2026-05-06T09:00:00+08:00.");
                return;
            }

            if (changed > time.GetUtcNow() + options.Value.SourceChangeClockSkew)
            {
                // A change not yet made would make any push look early.
                await Refuse(context, 400, ProblemTypes.ValidationFailed, "The source-change time is in the future", $"{GovShareHeaders.SourceChangedAt} {stated} is later than the node's clock.");
                return;
            }

            sourceChangedAt = changed;
            step.Diff = JsonSerializer.SerializeToElement(new { sourceChangedAt = changed });
        }

        var keyColumns = entry.Items.Select((item, index) => (item, index)).Where(p => p.item.Key).Select(p => p.index).ToList();
        if (mode == PushMode.Merge && keyColumns.Count == 0)
        {
            await Refuse(context, 409, ProblemTypes.NoKeyItems, "The resource has no key items", $"A merge matches rows by the resource's key items; the catalog entry of {entry.ResourceCode} marks none (an item's \"key\": true). Push with mode=replace, or have the entry name its key.");
            return;
        }

        if (!string.Equals(context.Request.ContentType?.Split(';')[0].Trim(), MediaTypes.ArrowStream, StringComparison.OrdinalIgnoreCase))
        {
            await Refuse(context, 415, ProblemTypes.UnsupportedMediaType, "A push is an Arrow IPC stream", $"Send Content-Type: {MediaTypes.ArrowStream}.");
            return;
        }

        // The catalog may give a large resource more than the node's default (a province-wide register replaced whole).
        var maxBytes = entry.MaxPushBytes ?? options.Value.MaxPushBytes;
        var capName = entry.MaxPushBytes is null ? "the node's Exchange:MaxPushBytes; a catalog entry may set its own maxPushBytes" : "its catalog entry's maxPushBytes";
        if (mode == PushMode.Merge && options.Value.MaxMergeBytes < maxBytes)
        {
            // A merge body is held in memory while the version is made, so it has its own, smaller cap.
            maxBytes = options.Value.MaxMergeBytes;
            capName = "the node's Exchange:MaxMergeBytes: a merge is held in memory; send a whole dataset with mode=replace";
        }

        var tooLarge = $"At most {maxBytes} bytes per {(mode == PushMode.Merge ? "merge" : "push")} of {entry.ResourceCode} ({capName}).";
        // Read from Kestrel's pipe in pieces of up to 128 KiB, not of its TLS layer's 16 KiB blocks:
        // each piece is one trip through the Arrow reader, the framing guard and the cap (UploadCap).
        var upload = UploadCap.TakeGathered(context, maxBytes, tooLarge, PushReadBytes);
        if (context.Request.ContentLength > maxBytes)
        {
            await Refuse(context, 413, ProblemTypes.PayloadTooLarge, "The push is too large", tooLarge);
            return;
        }

        if (!log.CanAppend(LogKind.Exchange))
        {
            // The outcome could not be logged, so nothing is taken (Art. 28).
            context.Response.Headers.RetryAfter = "5";
            await Refuse(context, 503, ProblemTypes.LogUnavailable, "The exchange log cannot be written", "The node cannot log exchanges right now (see /health/ready); try again later.");
            return;
        }

        var free = DiskSpace.FreeBytes(data.Path);
        if (free < node.Value.MinFreeBytes)
        {
            // Refused before a byte is read: a push filling the disk would take the logs' space too.
            LogPushNoSpace(logger, exchangeId.Value, entry.ResourceCode, free);
            context.Response.Headers.RetryAfter = "60";
            await Refuse(context, 507, ProblemTypes.InsufficientStorage, "The node is short of disk space", $"The node's data folder has {free} bytes free, below its floor of {node.Value.MinFreeBytes}; nothing was read. Try again later.");
            return;
        }

        // Each department has its share of the slots, so one department's slow uploads never hold them all.
        var pusher = caller.Uri;
        switch (gate.TryEnter(pusher))
        {
            case PushGate.Admission.DepartmentFull:
                context.Response.Headers.RetryAfter = "5";
                await Refuse(context, 429, ProblemTypes.PushShareExceeded, "Your department's pushes in progress are at its share", $"At most {gate.PerDepartment} pushes of one department run at once; let one finish first.");
                return;
            case PushGate.Admission.NodeFull:
                context.Response.Headers.RetryAfter = "5";
                await Refuse(context, 503, ProblemTypes.NodeBusy, "Too many pushes in progress", "Try again in a few seconds.");
                return;
        }

        try
        {
            var expected = entry.ArrowSchema();
            // A replace or append is done with each batch once DatasetPush.WriteAsync returns (its
            // bytes are copied into the file's chunks, the key hashes made), so the reader reuses
            // the disposed batches' bodies: a few arrays a push instead of one per batch (GC).
            // A merge keeps every batch until the end, so it never does.
            await using var reader = await SafeArrowReader.OpenAsync(upload, limits: null, declaredLength: context.Request.ContentLength, recycleBodies: mode != PushMode.Merge, context.RequestAborted);
            // A merge may carry the delete column beside the items; no other push may.
            var deleteColumn = mode == PushMode.Merge ? reader.Schema.GetFieldIndex(MergeWire.DeleteColumn) : -1;
            var itemsSchema = deleteColumn < 0 ? reader.Schema : new Schema(reader.Schema.FieldsList.Where((_, i) => i != deleteColumn), reader.Schema.Metadata);
            var (columns, mismatch) = MatchColumns(entry, expected, itemsSchema);
            if (deleteColumn >= 0)
            {
                columns = [.. columns.Select(c => c >= deleteColumn ? c + 1 : c)];
                if (reader.Schema.GetFieldByIndex(deleteColumn).DataType is not BooleanType)
                {
                    mismatch.Add($"Column '{MergeWire.DeleteColumn}' is {SchemaFingerprint.TypeText(reader.Schema.GetFieldByIndex(deleteColumn).DataType)}; it must be bool.");
                }
            }

            if (mismatch.Count > 0)
            {
                await Refuse(context, 400, ProblemTypes.SchemaMismatch, "The pushed columns do not match the catalog's items", string.Join(" ", mismatch), new() { ["errors"] = mismatch });
                return;
            }

            if (mode == PushMode.Merge)
            {
                var changes = new MergeChanges(expected, keyColumns);
                while (await reader.ReadNextBatchAsync(context.RequestAborted) is { } batch)
                {
                    changes.Add(new RecordBatch(expected, columns.Select(batch.Column), batch.Length), deleteColumn < 0 ? null : (BooleanArray)batch.Column(deleteColumn));
                }

                var merged = await MergePush.PublishAsync(datasets, entry.ResourceCode, changes, exchangeId, sourceChangedAt, context.RequestAborted);
                step.Rows = changes.Rows;
                step.Bytes = context.Request.ContentLength ?? merged.Version.Bytes;
                step.Items = entry.Items.Select(i => i.Id).ToList();
                await step.RecordAsync(StatusCodes.Status200OK);
                var mergeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                LogMerged(logger, exchangeId.Value, entry.ResourceCode, merged.Version.Version, changes.Upserts, changes.Deletes, merged.Replaced, merged.Deleted, merged.Version.Rows, caller.Uri, mergeMs);
                await TypedResults.Ok(new PushReceipt(exchangeId.Value, entry.ResourceCode, merged.Version.Version, merged.Version.Rows, merged.Version.Bytes, mode)
                {
                    Merge = new MergeReceipt(changes.Upserts, changes.Deletes, merged.Replaced, merged.Deleted),
                    SourceChange = sourceChangedAt is { } mergedChange ? SourceChangeReceipt.Measure(mergedChange, merged.Version.PushedAt, calendar) : null,
                }).ExecuteAsync(context);
                return;
            }

            // A resource with key items holds each key once: a replace names each key once, an append
            // only keys not yet stored — and is published only on the version whose keys it was checked against.
            var keys = keyColumns.Count == 0 ? null : new PushKeys(expected, keyColumns, mode, datasets);
            int? basedOn = null;
            if (keys is not null && mode == PushMode.Append)
            {
                var stored = datasets.Latest(entry.ResourceCode);
                if (stored is not null)
                {
                    await keys.AddStoredAsync(datasets, stored, context.RequestAborted);
                }

                basedOn = stored?.Version ?? 0;
            }

            await using var push = await datasets.BeginPushAsync(entry.ResourceCode, mode, expected, exchangeId, basedOn, context.RequestAborted);
            while (await reader.ReadNextBatchAsync(context.RequestAborted) is { } batch)
            {
                using (batch)
                {
                    // The catalog's schema, carrying item ids, over the pushed arrays in catalog order: no copy.
                    // The store checks every value against its item before writing (ArrowValueException).
                    var canonical = new RecordBatch(expected, columns.Select(batch.Column), batch.Length);
                    keys?.Add(canonical);
                    await push.WriteAsync(canonical, context.RequestAborted);
                }
            }

            keys?.ThrowIfDuplicated();
            var version = await push.CommitAsync(sourceChangedAt, context.RequestAborted);
            if (keys is not null)
            {
                // The key hashes just checked are the new segment's key index (kept on disk too): the next
                // merge, after a restart too, need not read it. Published already, so not cancelled by the client.
                await datasets.KeyIndexes.KeepAsync(version.Segments[^1], [.. keyColumns], keys.PushedRowsIndex(), CancellationToken.None);
            }

            step.Rows = version.Rows;
            step.Bytes = context.Request.ContentLength ?? version.Bytes;
            step.Items = entry.Items.Select(i => i.Id).ToList();
            await step.RecordAsync(StatusCodes.Status200OK);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogPushed(logger, exchangeId.Value, entry.ResourceCode, version.Version, version.Rows, version.Bytes, caller.Uri, elapsed);
            await TypedResults.Ok(new PushReceipt(exchangeId.Value, entry.ResourceCode, version.Version, version.Rows, version.Bytes, mode)
            {
                SourceChange = sourceChangedAt is { } change ? SourceChangeReceipt.Measure(change, version.PushedAt, calendar) : null,
            }).ExecuteAsync(context);
        }
        catch (ArrowInputException ex) when (ex.InnerException is BadHttpRequestException body)
        {
            // Not the stream's fault but its delivery: over the cap (413), too slow (408) or broken off.
            await UploadRefusal.Refuse(context, body, "The push is too large", "The push body was not received whole");
        }
        catch (ArrowInputException ex)
        {
            LogPushRefused(logger, exchangeId.Value, entry.ResourceCode, ex.Code);
            await step.RecordAsync(StatusCodes.Status400BadRequest, ProblemTypes.InvalidArrowStream);
            await ExchangeProblems.InvalidArrowStream(ex, exchangeId).ExecuteAsync(context);
        }
        catch (ArrowValueException ex)
        {
            LogPushRefused(logger, exchangeId.Value, entry.ResourceCode, ex.Violations.Count > 0 ? ex.Violations[0].Rule : "invalid-value");
            var errors = ex.Violations.Select(v => new Dictionary<string, object?>
            {
                ["item"] = v.Item,
                ["batch"] = v.Batch,
                ["row"] = v.Row,
                ["rule"] = v.Rule,
                ["count"] = v.Count,
                ["message"] = v.Message,
            }).ToList();
            await Refuse(context, 400, ProblemTypes.InvalidValue, "Pushed values break their items' rules", ex.Message, new() { ["errors"] = errors, ["more"] = ex.More });
        }
        catch (PushKeyException ex)
        {
            LogPushRefused(logger, exchangeId.Value, entry.ResourceCode, ex.Violations.Count > 0 ? ex.Violations[0].Rule : "invalid-merge-key");
            var errors = ex.Violations.Select(v => new Dictionary<string, object?>
            {
                ["item"] = v.Item,
                ["batch"] = v.Batch,
                ["row"] = v.Row,
                ["rule"] = v.Rule,
                ["message"] = v.Message,
            }).ToList();
            await Refuse(context, 400, ProblemTypes.InvalidMergeKey, mode == PushMode.Merge ? "The merge's keys are not one per row" : "The pushed keys are not one per row", ex.Message, new() { ["errors"] = errors, ["more"] = ex.More });
        }
        catch (DatasetMergeConflictException ex)
        {
            await Refuse(context, 409, ProblemTypes.MergeConflict, "Another push published a version meanwhile", ex.Message);
        }
        catch (DatasetSchemaMismatchException ex)
        {
            await step.RecordAsync(StatusCodes.Status409Conflict, ProblemTypes.SchemaMismatch);
            await ExchangeProblems.SchemaMismatch(ex, exchangeId).ExecuteAsync(context);
        }
        catch (BadHttpRequestException ex)
        {
            // The body broke off or outgrew its limit: the uncommitted push was removed.
            await UploadRefusal.Refuse(context, ex, "The push is too large", "The push body was not received whole");
        }
        catch (LogUnavailableException ex)
        {
            // Published but not durably logged: not acknowledged, so the provider pushes again.
            await Refuse(context, 503, ProblemTypes.LogUnavailable, "The exchange log cannot be written", ex.Message);
        }
        catch (Exception ex) when (DiskSpace.IsFull(ex))
        {
            // The disk filled while the dataset was written: the uncommitted file is already removed
            // (the push was disposed on the way out), which frees the space for this refusal's record.
            LogPushNoSpace(logger, exchangeId.Value, entry.ResourceCode, DiskSpace.FreeBytes(data.Path));
            context.Response.Headers.RetryAfter = "60";
            await Refuse(context, 507, ProblemTypes.InsufficientStorage, "The node ran out of disk space", "The dataset could not be written for lack of space; nothing was published. Try again later.");
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            LogPushAborted(logger, exchangeId.Value, entry.ResourceCode);
            await step.RecordAsync(ClientClosedRequest);
        }
        finally
        {
            gate.Exit(pusher);
        }
    }

    /// <summary>The pull endpoint's services, all singletons, looked up once per node rather than once per pull each.</summary>
    private sealed record PullServices(CatalogStore Catalog, DatasetStore Datasets, GrantStore Grants, ConsentStore Consents, SecrecyReviewGate Secrecy, PseudonymSecretHolder Secret, PullAnswerCache Answers, IOptions<ExchangeOptions> Options, LogWriter Log, TimeProvider Time, ExchangeLogger Loggers);

    /// <summary>
    /// A pull: every check of the request, then its answer from <see cref="PullAnswerCache"/> or
    /// streamed. Not an async method: each refusal and each answer is the task returned, so no pull
    /// pays for a state machine of these locals, nor a frame resumed when its record is durable.
    /// </summary>
    private static Task PullAsync(HttpContext context, string code, PullServices services)
    {
        var (catalog, datasets, grants, consents, secrecy, secret, answers, options, log, time, loggers) = services;
        var logger = loggers.Logger;
        var exchangeId = ExchangeId.ForRequest(context, time);
        if (!log.CanAppend(LogKind.Exchange))
        {
            // Data that cannot be logged is never delivered; say so now rather than cut the stream later.
            context.Response.Headers.RetryAfter = "5";
            return Refuse(context, 503, ProblemTypes.LogUnavailable, "The exchange log cannot be written", "The node cannot log exchanges right now (see /health/ready); try again later.");
        }

        var step = ExchangeStep.Start(context, log, ExchangeKind.Pull, exchangeId);
        var started = Stopwatch.GetTimestamp();
        var purpose = context.Request.Headers[GovShareHeaders.Purpose].ToString();
        step.Purpose = purpose.Length is > 0 and <= 64 ? purpose : null;
        if (purpose.Length == 0)
        {
            return Refuse(context, 400, ProblemTypes.PurposeRequired, "A purpose of use is required", $"Send the {GovShareHeaders.Purpose} header with the purpose code of your grant or use (Art. 32).");
        }

        if (!PurposePattern.IsMatch(purpose))
        {
            return Refuse(context, 400, ProblemTypes.MalformedRequest, "Malformed purpose", $"{GovShareHeaders.Purpose} is 1 to 64 letters, digits and . _ : - only.");
        }

        if (Resolve(context, code, catalog, out var refused) is not { } entry)
        {
            return refused;
        }

        step.ResourceCode = entry.ResourceCode;
        step.Provider = entry.Provider.CreditCode;
        var caller = CallerIdentity.FromPrincipal(context.User)!;
        if (secrecy.Withholds(entry, caller.DivisionCode, caller.CreditCode))
        {
            // Art. 34: no secrecy review on record, so the resource is not shared yet (its provider still reads its own).
            LogPullRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ProblemTypes.SecrecyReviewMissing);
            return Refuse(context, 403, ProblemTypes.SecrecyReviewMissing, "The resource has no secrecy review on record", SecrecyReviewGate.Detail(entry));
        }

        var decision = PullAuthorisation.Decide(entry, caller, purpose, QueryValues.Of(context.Request, "items"), grants, time.GetUtcNow());
        step.GrantId = decision.Grant?.Id;
        step.Items = decision.ItemIds;
        if (!decision.Allowed)
        {
            LogPullRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, decision.ProblemType!);
            return Refuse(context, decision.Status, decision.ProblemType!, decision.Title!, decision.Detail!);
        }

        if (decision.Items!.Count == 0)
        {
            // E.g. every granted item was since removed from the catalog or made unshareable.
            return Refuse(context, 403, ProblemTypes.ItemNotGranted, "No information item you may see", $"None of the items of {entry.ResourceCode} is currently shared with you for purpose '{purpose}'.");
        }

        // Art. 33: data provided on to a third party needs its provider's consent for this purpose and
        // this recipient. Only a pull that names a recipient pays for the check (one snapshot look-up).
        if (context.Request.Headers.TryGetValue(GovShareHeaders.OnwardRecipient, out var onward))
        {
            var named = onward.ToString();
            step.Recipient = named.Length <= 200 ? named : null;
            if (onward.Count != 1 || CallerIdentity.TryParse(named) is not { Kind: CallerKind.Department, CreditCode: not null } recipient)
            {
                return Refuse(context, 400, ProblemTypes.MalformedRequest, "Malformed onward recipient", $"{GovShareHeaders.OnwardRecipient} is one department identity URI (govshare:dept/<division>/<credit code>).");
            }

            if (!entry.Provider.SameAs(caller.DivisionCode, caller.CreditCode) && !consents.Allows(caller, entry.ResourceCode, purpose, recipient.Uri, time.GetUtcNow()))
            {
                LogPullRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ProblemTypes.OnwardSharingNotConsented);
                return Refuse(context, 403, ProblemTypes.OnwardSharingNotConsented, "No consent to provide this data on",
                    $"{entry.Provider.Key} has not consented to {entry.ResourceCode} being provided on to {recipient.Uri} for purpose '{purpose}' (Art. 33); apply with POST /v1/consents.");
            }
        }

        if (datasets.Latest(entry.ResourceCode) is not { } version)
        {
            return Refuse(context, 404, ProblemTypes.NoData, "No data has been pushed yet", $"{entry.ResourceCode} has no published version.");
        }

        var accept = Representation(context.Request.Headers.Accept.ToString());
        if (accept is null)
        {
            return Refuse(context, 406, ProblemTypes.UnsupportedMediaType, "Unsupported representation", $"Ask for {MediaTypes.ArrowStream}, {TextRepresentation.Json} or {TextRepresentation.Csv}.");
        }

        if (accept != MediaTypes.ArrowStream && version.Rows > options.Value.MaxTextRows)
        {
            return Refuse(context, 406, ProblemTypes.ResultTooLargeForText, "Too many rows for JSON or CSV", $"The resource has {version.Rows} rows; JSON and CSV are offered up to {options.Value.MaxTextRows}. Pull it as {MediaTypes.ArrowStream}.");
        }

        // A small version's answer for exactly these items and masks may already be encoded: then
        // no file is opened (every check above was made for this request all the same).
        var cacheKey = !answers.Admits(version, decision.Items!) ? null : decision.Keys is { } keys ? keys.For(accept) : PullAnswerCache.Key(accept, decision.ItemsNamed, decision.Items!);
        if (cacheKey is not null && answers.Find(version, cacheKey) is { } cached)
        {
            return AnswerFromCacheAsync(context, accept, version, cached, step, caller.Uri, purpose, started, logger);
        }

        return PullStreamedAsync(context, entry, caller, purpose, decision, version, accept, cacheKey, step, started, logger, datasets, answers, secret, grants, time);
    }

    /// <summary>
    /// A pull that the answer cache cannot serve: the stored version read, masked and encoded. Its own
    /// method so that a cached answer (one-row pulls, most of them) pays for a state machine of
    /// the decision's locals only, not of all of these.
    /// </summary>
    private static async Task PullStreamedAsync(HttpContext context, CatalogEntry entry, CallerIdentity caller, string purpose, PullDecision decision, DatasetVersion version, string accept, string? cacheKey, ExchangeStep step, long started, ILogger logger, DatasetStore datasets, PullAnswerCache answers, PseudonymSecretHolder secret, GrantStore grants, TimeProvider time)
    {
        var exchangeId = step.ExchangeId;
        DatasetReader reader;
        try
        {
            reader = datasets.OpenRead(version);
        }
        catch (IOException ex)
        {
            // A segment file lost (e.g. a rename a power cut undid): the previous versions are intact.
            LogPullFailed(logger, exchangeId.Value, entry.ResourceCode, ProblemTypes.DatasetUnreadable, 0, 0, ex.GetType().Name);
            await Refuse(context, 500, ProblemTypes.DatasetUnreadable, "The stored version cannot be read", $"Version {version.Version} of {entry.ResourceCode} could not be opened; the operator has been told through the node's log.");
            return;
        }

        await using var readerScope = reader;
        Schema sourceSchema;
        try
        {
            sourceSchema = await reader.ReadSchemaAsync(context.RequestAborted);
        }
        catch (ArrowInputException ex)
        {
            // A damaged stored file: the node's fault, said plainly and logged, never a bare 500.
            LogPullFailed(logger, exchangeId.Value, entry.ResourceCode, ProblemTypes.DatasetUnreadable, 0, 0, ex.Code);
            await Refuse(context, 500, ProblemTypes.DatasetUnreadable, "The stored version cannot be read", $"Version {version.Version} of {entry.ResourceCode} could not be read back; the operator has been told through the node's log.");
            return;
        }

        // Stored columns carry their item id, so an item renamed in the catalog since the push is
        // still found; an item added since has no data in this version yet.
        var columns = StoredColumns(sourceSchema);
        var missing = decision.Items!.Where(i => !columns.ContainsKey(i.Item.Id)).Select(i => i.Item.Id).ToList();
        if (missing.Count > 0 && (decision.ItemsNamed || missing.Count == decision.Items!.Count))
        {
            await Refuse(context, 409, ProblemTypes.NoData, "No data yet for these items", $"Version {version.Version} of {entry.ResourceCode} was pushed before the items {string.Join(", ", missing)} were catalogued; the provider's next push brings them.");
            return;
        }

        var delivered = decision.Items!.Where(i => columns.ContainsKey(i.Item.Id)).ToList();
        step.Items = delivered.Select(i => i.Item.Id).ToList();
        var key = delivered.Any(i => i.Masking.Kind == MaskingKind.Pseudonym) ? PseudonymKey.Derive(secret.Secret, caller.Uri) : null;
        ItemProjection projection;
        try
        {
            projection = ItemProjection.Create(sourceSchema, delivered.Select(i => new ProjectedItem(columns[i.Item.Id], i.Item.Name, i.Masking)).ToList(), key);
        }
        catch (ItemProjectionException ex)
        {
            // A rule that does not fit its item's type (written before rules were checked, or the
            // item's type changed since the grant): the rule's problem, not the server's.
            LogPullRefused(logger, exchangeId.Value, entry.ResourceCode, caller.Uri, ProblemTypes.MaskingRuleMismatch);
            await Refuse(context, 409, ProblemTypes.MaskingRuleMismatch, "A masking rule does not fit its item", string.Join(" ", ex.Errors), new() { ["errors"] = ex.Errors });
            return;
        }

        using var projectionScope = projection;
        context.Response.ContentType = accept;
        // The version read, so that a user disputing the data can name it (Art. 27).
        context.Response.Headers[GovShareHeaders.DataVersion] = version.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Every row of the version goes out (items and masks change columns, never rows): the
        // client's progress display has its total before the first byte.
        context.Response.Headers[GovShareHeaders.DataRows] = version.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Arrow's writer emits many small pieces (metadata, each buffer, padding); unbuffered, each
        // would be its own flush and TLS record. 64 KiB chunks keep the wire full. `wire` counts
        // what reached the transport, `body` what was produced: a pull cut short logs the former.
        var wire = new CountingStream(context.Response.Body);
        await using var buffered = new BufferedStream(wire, 64 * 1024);
        // A small version's answer is also copied, to be kept once it was delivered whole (PullAnswerCache).
        var body = new CountingStream(buffered, cacheKey is null ? null : new MemoryStream());
        var delivery = new DeliveryMarks();
        long rows = 0;
        var generation = grants.Generation;
        ArrowStreamWriter? arrow = null;
        TextRepresentation? text = null;
        try
        {
            if (accept == MediaTypes.ArrowStream)
            {
                arrow = new ArrowStreamWriter(body, projection.OutputSchema, leaveOpen: true);
                await arrow.WriteStartAsync(context.RequestAborted);
            }
            else
            {
                text = await TextRepresentation.StartAsync(body, projection.OutputSchema, accept == TextRepresentation.Csv, context.RequestAborted);
            }

            // Reading and masking run one batch ahead of encoding and writing, on another thread.
            // Each batch is disposed once written and never touched after, so the read may reuse
            // its memory for a later batch of this pull (a few bodies instead of one per batch).
            await foreach (var (batch, projected) in ProjectionPipeline.ProjectAheadAsync(reader.ReadBatchesAsync(recycleBodies: true, context.RequestAborted), projection, depth: 1, context.RequestAborted))
            {
                using (batch)
                {
                    using var output = projected;
                    // A revocation takes effect at once, in the middle of a pull too (Art. 25, 32).
                    if (decision.Grant is { } grant && grants.Generation != Interlocked.Read(ref generation))
                    {
                        generation = grants.Generation;
                        if (grants.Find(grant.Id) is not { } current || !current.IsEffective(time.GetUtcNow()))
                        {
                            LogPullCut(logger, exchangeId.Value, entry.ResourceCode, grant.Id);
                            step.Rows = delivery.RowsDelivered(wire.Written);
                            step.Bytes = wire.Written;
                            await step.RecordAsync(StatusCodes.Status403Forbidden, ProblemTypes.NoGrant);
                            context.Abort();
                            return;
                        }
                    }

                    if (arrow is not null)
                    {
                        await arrow.WriteRecordBatchAsync(output, context.RequestAborted);
                    }
                    else
                    {
                        await text!.WriteAsync(output, context.RequestAborted);
                    }

                    // Written (the writers copy what they keep), never read again: its masked
                    // columns' memory goes to a later batch of this pull.
                    projection.Recycle(output);
                    rows += output.Length;
                    delivery.Mark(body.Written, rows);
                }
            }

            // The record is durable before the stream is complete: a user never holds a whole
            // delivery that the log does not show.
            step.Rows = rows;
            step.Bytes = body.Written;
            await step.RecordAsync(StatusCodes.Status200OK);
            if (arrow is not null)
            {
                await arrow.WriteEndAsync(context.RequestAborted);
            }
            else
            {
                await text!.EndAsync(context.RequestAborted);
            }

            await buffered.FlushAsync(context.RequestAborted);
            if (cacheKey is not null && body.Copy is { } copy)
            {
                answers.Add(version, cacheKey, new CachedAnswer(copy.ToArray(), (int)step.Bytes, rows, step.Items));
            }

            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var itemIds = string.Join(",", step.Items);
            LogPulled(logger, exchangeId.Value, entry.ResourceCode, version.Version, rows, body.Written, caller.Uri, purpose, itemIds, elapsed);
        }
        catch (LogUnavailableException)
        {
            context.Abort(); // Unlogged data is never completed.
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            LogPullAborted(logger, exchangeId.Value, entry.ResourceCode);
            step.Rows = delivery.RowsDelivered(wire.Written);
            step.Bytes = wire.Written;
            await step.RecordAsync(ClientClosedRequest);
        }
#pragma warning disable CA1031 // Whatever ends a pull early must still leave its exchange-log record (Art. 28).
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
#pragma warning restore CA1031
        {
            // Anything else after the answer began (a damaged stored file, a value a representation
            // cannot spell): the stream is cut without its end, and the log says how far it got and why.
            var why = ex is ArrowInputException ? ProblemTypes.DatasetUnreadable : ProblemTypes.Internal;
            step.Rows = delivery.RowsDelivered(wire.Written);
            step.Bytes = wire.Written;
            LogPullFailed(logger, exchangeId.Value, entry.ResourceCode, why, step.Rows, step.Bytes, ex is ArrowInputException input ? input.Code : ex.GetType().Name);
            try
            {
                await step.RecordAsync(StatusCodes.Status500InternalServerError, why);
            }
            catch (LogUnavailableException)
            {
                // Nothing more can be done: the stream is cut below either way.
            }

            if (ex is ArrowInputException && wire.Written == 0 && !context.Response.HasStarted)
            {
                // Refused before a byte reached the client (a stored block that fails its hash is
                // held back whole): a plain 500 problem, as for a file that cannot be opened. What
                // the writers buffered is dropped, never flushed after the problem.
                wire.Seal();
                context.Response.Headers.Remove(GovShareHeaders.DataVersion);
                context.Response.Headers.Remove(GovShareHeaders.DataRows);
                await Refuse(context, 500, ProblemTypes.DatasetUnreadable, "The stored version cannot be read", $"Version {version.Version} of {entry.ResourceCode} could not be read back; the operator has been told through the node's log.");
                return;
            }

            context.Abort();
        }
        finally
        {
            arrow?.Dispose();
            if (text is not null)
            {
                await text.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A pull answered from <see cref="PullAnswerCache"/>: its record is made durable first, then the
    /// whole answer goes out in one write — a user never holds a delivery the log does not show.
    /// </summary>
    private static async Task AnswerFromCacheAsync(HttpContext context, string accept, DatasetVersion version, CachedAnswer cached, ExchangeStep step, string caller, string purpose, long started, ILogger logger)
    {
        context.Response.ContentType = accept;
        context.Response.Headers[GovShareHeaders.DataVersion] = version.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers[GovShareHeaders.DataRows] = cached.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.ContentLength = cached.Body.Length;
        step.Items = cached.ItemIds;
        step.Rows = cached.Rows;
        step.Bytes = cached.BeforeEnd;
        try
        {
            await step.RecordAsync(StatusCodes.Status200OK);
            // A pipe writer's WriteAsync is a write and a flush: headers and body leave in one send,
            // with no second, empty flush through Kestrel's output after it.
            await context.Response.BodyWriter.WriteAsync(cached.Body, context.RequestAborted);
            if (logger.IsEnabled(LogLevel.Debug))
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var itemIds = string.Join(",", step.Items);
                LogPulled(logger, step.ExchangeId.Value, version.ResourceCode, version.Version, cached.Rows, cached.BeforeEnd, caller, purpose, itemIds, elapsed);
            }
        }
        catch (LogUnavailableException)
        {
            context.Abort(); // Unlogged data is never delivered.
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The record of the whole delivery is already durable, as on the streamed path when the client goes after it.
            LogPullAborted(logger, step.ExchangeId.Value, version.ResourceCode);
        }
    }

    private static IResult Versions(HttpContext context, string code, CatalogStore catalog, DatasetStore datasets, WorkingDayCalendar calendar)
    {
        if (!ResourceCode.TryFromUrl(code, out var resource) || catalog.Get(resource) is not { } entry)
        {
            return Problem.Result(404, ProblemTypes.NotFound, "No such resource", $"No resource '{code}' in this node's catalog.");
        }

        var caller = CallerIdentity.FromPrincipal(context.User)!;
        if (!entry.Provider.SameAs(caller.DivisionCode, caller.CreditCode))
        {
            return Problem.Result(403, ProblemTypes.NotProvider, "Only the source department sees its versions", null);
        }

        // dataUpdatedAt is the stated source-change time, or the push time when none was stated (then never late).
        return TypedResults.Ok(datasets.Versions(resource).Select(v =>
        {
            var measured = SourceChangeReceipt.Measure(v.DataUpdatedAt, v.PushedAt, calendar);
            return new { v.Version, v.Rows, v.Bytes, v.PushedAt, v.DataUpdatedAt, updateDue = measured.UpdateDue, late = measured.Late, v.ExchangeId, v.Mode };
        }));
    }

    /// <summary>
    /// The local entry of a URL's resource code; null when the answer is already written: a 400
    /// or 404 problem. A resource held elsewhere in the tree never reaches here: the hierarchy's
    /// routing forwards it first (see <see cref="NodeRouting.ByRouteValue"/>).
    /// </summary>
    private static async Task<CatalogEntry?> ResolveAsync(HttpContext context, string code, CatalogStore catalog)
    {
        if (Resolve(context, code, catalog, out var refused) is { } entry)
        {
            return entry;
        }

        await refused;
        return null;
    }

    /// <summary>
    /// <see cref="ResolveAsync"/> without a task for the entry found (a pull's path): null with
    /// <paramref name="refused"/> writing the 400 or 404 problem, or the entry with a completed task.
    /// </summary>
    private static CatalogEntry? Resolve(HttpContext context, string code, CatalogStore catalog, out Task refused)
    {
        if (!ResourceCode.TryFromUrl(code, out var resource))
        {
            refused = Refuse(context, 400, ProblemTypes.MalformedRequest, "Malformed resource code", $"'{code}' is not a resource code in URL form (<classification>-<sequence>).");
            return null;
        }

        if (catalog.Get(resource) is not { Status: EntryStatus.Active } entry)
        {
            refused = Refuse(context, 404, ProblemTypes.NotFound, "No such resource", $"No active resource {resource} in this node's catalog.");
            return null;
        }

        refused = Task.CompletedTask;
        return entry;
    }

    private static string ModeText(PushMode mode) => mode switch
    {
        PushMode.Append => "append",
        PushMode.Merge => MergeWire.Mode,
        _ => "replace",
    };

    private static bool TryParseMode(string text, out PushMode mode)
    {
        mode = PushMode.Replace;
        switch (text)
        {
            case "" or "replace":
                return true;
            case "append":
                mode = PushMode.Append;
                return true;
            case MergeWire.Mode:
                mode = PushMode.Merge;
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Matches each pushed column to a catalog item — by item name or id, canonicalised as pulls
    /// are, in any order — and checks its type. Returns, for each item in catalog order, the
    /// index of its pushed column; or every difference (missing, extra, doubled, mistyped).
    /// </summary>
    internal static (int[] Columns, List<string> Errors) MatchColumns(CatalogEntry entry, Schema expected, Schema pushed)
    {
        var errors = new List<string>();
        var columns = Enumerable.Repeat(-1, expected.FieldsList.Count).ToArray();
        var itemIndex = entry.Items.Select((item, index) => (item.Id, index)).ToDictionary(p => p.Id, p => p.index, StringComparer.Ordinal);
        for (var c = 0; c < pushed.FieldsList.Count; c++)
        {
            var field = pushed.FieldsList[c];
            if (entry.ResolveItem(field.Name) is not { } item)
            {
                errors.Add($"Extra column '{field.Name}' is not an item of the resource.");
                continue;
            }

            var i = itemIndex[item.Id];
            if (columns[i] >= 0)
            {
                errors.Add($"Columns '{pushed.FieldsList[columns[i]].Name}' and '{field.Name}' are both item '{item.Name}' ({item.Id}).");
                continue;
            }

            columns[i] = c;
            var want = SchemaFingerprint.TypeText(expected.GetFieldByIndex(i).DataType);
            if (SchemaFingerprint.TypeText(field.DataType) != want)
            {
                errors.Add($"Column '{field.Name}' is {SchemaFingerprint.TypeText(field.DataType)}; the catalog says {want}.");
            }
        }

        for (var i = 0; i < columns.Length; i++)
        {
            if (columns[i] < 0)
            {
                errors.Add($"Missing column '{expected.GetFieldByIndex(i).Name}' (item {entry.Items[i].Id}).");
            }
        }

        return (columns, errors);
    }

    /// <summary>Item id → stored column name, from each field's <c>govshare:item-id</c> metadata.</summary>
    private static Dictionary<string, string> StoredColumns(Schema stored)
    {
        var columns = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in stored.FieldsList)
        {
            if (field.Metadata is { } metadata && metadata.TryGetValue(CatalogEntry.ItemIdMetadataKey, out var id))
            {
                columns.TryAdd(id, field.Name);
            }
        }

        return columns;
    }

    /// <summary>The representation the client asked for; Arrow when it did not say.</summary>
    private static string? Representation(string accept)
    {
        switch (accept)
        {
            // One media type, as a department's client sends it: what the loop below would find, without its splits.
            case "" or MediaTypes.ArrowStream:
                return MediaTypes.ArrowStream;
            case TextRepresentation.Json:
                return TextRepresentation.Json;
            case TextRepresentation.Csv:
                return TextRepresentation.Csv;
        }

        foreach (var part in accept.Split(','))
        {
            var media = part.Split(';')[0].Trim().ToLowerInvariant();
            switch (media)
            {
                case MediaTypes.ArrowStream or "*/*" or "application/*":
                    return MediaTypes.ArrowStream;
                case TextRepresentation.Json:
                    return TextRepresentation.Json;
                case TextRepresentation.Csv or "text/*":
                    return TextRepresentation.Csv;
            }
        }

        return null;
    }

    /// <summary>Answers with a problem, after the refusal's exchange-log record is durable.</summary>
    private static bool TryParseInstant(string text, out DateTimeOffset instant)
    {
        instant = default;
        // RFC 3339 with an explicit offset: a bare local time would be read in the node's zone, not the department's.
        return SourceChangePattern().IsMatch(text)
            && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out instant);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$")]
    private static partial Regex SourceChangePattern();

    /// <summary>Answers an exchange (push, pull, comparison) with a problem, after the refusal's exchange-log record is durable.</summary>
    internal static async Task Refuse(HttpContext context, int status, string type, string title, string? detail, Dictionary<string, object?>? extensions = null)
    {
        var problemExtensions = extensions ?? [];
        if (context.Response.Headers.TryGetValue(GovShareHeaders.ExchangeId, out var id))
        {
            problemExtensions["exchangeId"] = id.ToString();
        }

        if (ExchangeStep.Of(context) is { } step && type != ProblemTypes.LogUnavailable)
        {
            try
            {
                await step.RecordAsync(status, type);
            }
            catch (LogUnavailableException)
            {
                // A refusal acknowledges nothing, so it is still answered; the log's state is on /health/ready.
            }
        }

        await Problem.ExecuteAsync(context, status, type, title, detail, problemExtensions);
    }

    /// <summary>The client went away before the exchange ended (nginx's convention).</summary>
    private const int ClientClosedRequest = 499;

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,64}$")]
    private static partial Regex PurposeRegex();

    [LoggerMessage(EventId = 4101, EventName = "Pushed", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: push of {ResourceCode} published version {Version} ({Rows} rows, {Bytes} bytes) by {Caller} in {Milliseconds} ms")]
    private static partial void LogPushed(ILogger logger, string exchangeId, string resourceCode, int version, long rows, long bytes, string caller, double milliseconds);

    [LoggerMessage(EventId = 4105, EventName = "Merged", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: merge push of {ResourceCode} published version {Version} ({Upserts} upserts, {Deletes} deletes; {Replaced} rows replaced, {Deleted} removed; {Rows} rows) by {Caller} in {Milliseconds} ms")]
    private static partial void LogMerged(ILogger logger, string exchangeId, string resourceCode, int version, long upserts, long deletes, long replaced, long deleted, long rows, string caller, double milliseconds);

    [LoggerMessage(EventId = 4102, EventName = "PushRefused", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: push of {ResourceCode} refused: {Code}")]
    private static partial void LogPushRefused(ILogger logger, string exchangeId, string resourceCode, string code);

    [LoggerMessage(EventId = 4103, EventName = "PushAborted", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: push of {ResourceCode} broke off; nothing was published")]
    private static partial void LogPushAborted(ILogger logger, string exchangeId, string resourceCode);

    [LoggerMessage(EventId = 4104, EventName = "PushNoSpace", Level = LogLevel.Warning, Message = "Exchange {ExchangeId}: push of {ResourceCode} refused for lack of disk space ({Free} bytes free)")]
    private static partial void LogPushNoSpace(ILogger logger, string exchangeId, string resourceCode, long free);

    [LoggerMessage(EventId = 4111, EventName = "Pulled", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: pull of {ResourceCode} v{Version} ({Rows} rows, {Bytes} bytes) by {Caller} for {Purpose}, items {Items}, in {Milliseconds} ms")]
    private static partial void LogPulled(ILogger logger, string exchangeId, string resourceCode, int version, long rows, long bytes, string caller, string purpose, string items, double milliseconds);

    [LoggerMessage(EventId = 4112, EventName = "PullRefused", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: pull of {ResourceCode} by {Caller} refused: {ProblemType}")]
    private static partial void LogPullRefused(ILogger logger, string exchangeId, string resourceCode, string caller, string problemType);

    [LoggerMessage(EventId = 4113, EventName = "PullCut", Level = LogLevel.Warning, Message = "Exchange {ExchangeId}: pull of {ResourceCode} cut off: grant {GrantId} no longer effective")]
    private static partial void LogPullCut(ILogger logger, string exchangeId, string resourceCode, string grantId);

    [LoggerMessage(EventId = 4114, EventName = "PullAborted", Level = LogLevel.Debug, Message = "Exchange {ExchangeId}: pull of {ResourceCode} broke off by the client")]
    private static partial void LogPullAborted(ILogger logger, string exchangeId, string resourceCode);

    [LoggerMessage(EventId = 4115, EventName = "PullFailed", Level = LogLevel.Error, Message = "Exchange {ExchangeId}: pull of {ResourceCode} failed ({ProblemType}) after {Rows} rows, {Bytes} bytes: {Cause}")]
    private static partial void LogPullFailed(ILogger logger, string exchangeId, string resourceCode, string problemType, long rows, long bytes, string cause);
}

/// <summary>
/// Bounds the pushes in progress at once (each may hold one record batch in memory), and each
/// department's share of them: a department at its share is refused while others still push.
/// </summary>
internal sealed class PushGate(int capacity, int perDepartment)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _held = new(StringComparer.Ordinal);
    private readonly int _capacity = Math.Max(1, capacity);
    private int _total;

    /// <summary>Whether a push may start.</summary>
    public enum Admission
    {
        Entered,
        DepartmentFull,
        NodeFull,
    }

    public int PerDepartment { get; } = Math.Clamp(perDepartment, 1, Math.Max(1, capacity));

    /// <summary>The pushes of <paramref name="department"/> in progress now.</summary>
    public int Held(string department)
    {
        lock (_gate)
        {
            return _held.GetValueOrDefault(department);
        }
    }

    public Admission TryEnter(string department)
    {
        lock (_gate)
        {
            var held = _held.GetValueOrDefault(department);
            if (held >= PerDepartment)
            {
                return Admission.DepartmentFull;
            }

            if (_total >= _capacity)
            {
                return Admission.NodeFull;
            }

            _held[department] = held + 1;
            _total++;
            return Admission.Entered;
        }
    }

    public void Exit(string department)
    {
        lock (_gate)
        {
            _total--;
            if (--CollectionsMarshal.GetValueRefOrNullRef(_held, department) == 0)
            {
                _held.Remove(department);
            }
        }
    }
}

/// <summary>The node's pseudonym secret, loaded once.</summary>
internal sealed record PseudonymSecretHolder(byte[] Secret);

/// <summary>
/// Where each pulled batch ended in the produced bytes, so a pull cut short can log the rows
/// whose bytes all reached the transport, not those still in a buffer.
/// </summary>
internal sealed class DeliveryMarks
{
    private readonly Queue<(long End, long Rows)> _marks = new();
    private long _delivered;

    public void Mark(long end, long rows) => _marks.Enqueue((end, rows));

    public long RowsDelivered(long reachedTransport)
    {
        while (_marks.TryPeek(out var mark) && mark.End <= reachedTransport)
        {
            _delivered = _marks.Dequeue().Rows;
        }

        return _delivered;
    }
}

/// <summary>Counts the bytes written through it, for the exchange log's volume.</summary>
internal sealed class CountingStream(Stream inner, MemoryStream? copy = null) : Stream
{
    public long Written { get; private set; }

    /// <summary>Every byte written, when asked for and no more than <see cref="PullAnswerCache.MaxVersionBytes"/> were; null otherwise.</summary>
    public MemoryStream? Copy => copy;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Written; set => throw new NotSupportedException(); }

    private bool _sealed;

    /// <summary>From now on, what is written or flushed goes nowhere: the answer became a problem before a byte was sent.</summary>
    public void Seal() => _sealed = true;

    public override void Flush()
    {
        if (!_sealed)
        {
            inner.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _sealed ? Task.CompletedTask : inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (_sealed)
        {
            return;
        }

        inner.Write(buffer, offset, count);
        Written += count;
        Keep(buffer.AsSpan(offset, count));
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_sealed)
        {
            return;
        }

        await inner.WriteAsync(buffer, cancellationToken);
        Written += buffer.Length;
        Keep(buffer.Span);
    }

    private void Keep(ReadOnlySpan<byte> written)
    {
        if (copy is null)
        {
            return;
        }

        if (copy.Length + written.Length > PullAnswerCache.MaxVersionBytes)
        {
            copy = null; // Too large to keep: the answer simply is not cached.
            return;
        }

        copy.Write(written);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}
