using System.CommandLine;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare sync</c>: pushes only the rows changed since the last sync (by an updated-at item or
/// by key and row hash), once or every <c>--every</c> period, keeping its state in a local folder.
/// </summary>
internal static class SyncCommand
{
    public static Command Create()
    {
        var resource = new Option<string>("--resource") { Description = "The resource code (catalog).", Required = true };
        var updatedAt = new Option<string?>("--updated-at") { Description = "Item holding each row's last change time: push rows changed since the last sync." };
        var key = new Option<string?>("--key") { Description = "Comma-separated key item(s): push rows whose content hash changed, and keys gone as deletes (a merge push, when the catalog names the same key items; else the whole dataset)." };
        var every = new Option<string?>("--every") { Description = "Repeat every period, e.g. 30s, 30m, 1h, 1d (default: once). Ctrl+C or SIGTERM stops it: exit 0 while it waits for the next run, 130 during a run." };
        var state = new Option<string>("--state") { Description = "Folder of the local sync state.", DefaultValueFactory = _ => ".govshare-sync" };
        var source = new DataSourceOptions();
        var command = new Command("sync", "Push the rows changed since the last sync, once or on a schedule (Art. 16 update rule).") { resource, updatedAt, key, every, state };
        source.AddTo(command);
        DepartmentCommand.AddOptions(command);
        command.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var keys = parse.GetValue(key)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if ((parse.GetValue(updatedAt) is null) == (keys is null))
            {
                throw new ArgumentException("Give --updated-at ITEM or --key ITEM[,ITEM] (one of them).");
            }

            var period = parse.GetValue(every) is { } text ? ParsePeriod(text) : (TimeSpan?)null;
            var settings = new SyncSettings(parse.GetValue(resource)!, keys is null ? SyncStrategy.Watermark : SyncStrategy.KeyHash, parse.GetValue(state)!, parse.GetValue(updatedAt), keys);
            var config = DepartmentCommand.Load(parse);
            var reading = new ReadingProgress(source);
            var (open, connection) = source.Resolve(parse, reading.Bytes);
            await using (connection)
            {
                using var http = config.CreateHttpClient();
                var client = new NodeClient(http);
                // Checked against the catalog entry on the way to the staged file, as a push is.
                var check = await client.GetCatalogCheckAsync(settings.ResourceCode, cancellation);

                // Changes go as a merge when the node matches rows by the same key as this sync.
                settings = settings with { Merge = keys is not null && check.HasKeyItems(keys) };
                if (keys is not null && !settings.Merge)
                {
                    Console.Error.WriteLine($"note: the catalog entry of {settings.ResourceCode} does not name {string.Join("+", keys)} as its key items, so a changed or deleted row re-sends the whole dataset (mark the key items in the catalog and changes go as a merge push).");
                }
                var sync = new IncrementalSync(settings);
                Func<IRecordSource> checkedSource = () => reading.Counted(check.Wrap(open()));
                PushStaged push = async (staged, mode, token) =>
                {
                    // The staged file's size is the upload's total: percentage and time left.
                    var upload = new TransferProgressLine($"sync: push {staged.Rows:N0} rows", staged.Bytes);
                    var receipt = await client.PushAsync(settings.ResourceCode, mode, staged, upload.Bytes, token);
                    upload.Done();
                    return receipt;
                };
                Func<CancellationToken, Task<long>> nodeVersion = token => client.GetLatestVersionAsync(settings.ResourceCode, token);
                if (period is null)
                {
                    Report(await sync.RunOnceAsync(checkedSource, push, TimeProvider.System, TemporaryFiles.Folder, nodeVersion, cancellation), settings);
                    return ExitCodes.Ok;
                }

                await sync.RunEveryAsync(period.Value, checkedSource, push, TimeProvider.System, (result, error) =>
                {
                    if (result is not null)
                    {
                        Report(result, settings);
                    }
                    else
                    {
                        Console.Error.WriteLine($"{DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss zzz} sync failed, retried in {period}: {(error is NodeRefusedException refused ? ProblemText.Describe(refused.Status, refused.Body) : error!.Message)}");
                    }
                }, TemporaryFiles.Folder, nodeVersion, cancellation);
                return ExitCodes.Ok;
            }
        }));
        return command;
    }

    internal static TimeSpan ParsePeriod(string text)
    {
        var trimmed = text.Trim().ToLowerInvariant();
        if (trimmed.Length >= 2 && int.TryParse(trimmed[..^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (trimmed[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }

        throw new ArgumentException($"--every: '{text}' is not a period (e.g. 30s, 30m, 1h, 1d).");
    }

    /// <summary>
    /// The progress of each read of the source (a sync may read it twice: changes, then in full):
    /// a line per read, its total the file's size when the source is a file.
    /// </summary>
    private sealed class ReadingProgress(DataSourceOptions source)
    {
        private readonly DataSourceOptions _source = source;
        private TransferProgressLine? _current;

        /// <summary>Bytes the source reports, to the read under way.</summary>
        public IProgress<long> Bytes => new Relay(this);

        public IRecordSource Counted(IRecordSource inner) => new CountedSource(this, inner);

        private sealed class Relay(ReadingProgress owner) : IProgress<long>
        {
            public void Report(long value) => owner._current?.Bytes.Report(value);
        }

        private sealed class CountedSource(ReadingProgress owner, IRecordSource inner) : IRecordSource
        {
            public async IAsyncEnumerable<Apache.Arrow.RecordBatch> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
            {
                var line = owner._current = new TransferProgressLine("sync: read", owner._source.FileBytes);
                var rows = line.Rows;
                long count = 0;
                await foreach (var batch in inner.ReadAsync(cancellation).WithCancellation(cancellation))
                {
                    count += batch.Length;
                    rows.Report(count);
                    yield return batch;
                }

                line.Done();
                owner._current = null;
            }
        }
    }

    private static void Report(SyncResult result, SyncSettings settings)
    {
        if (result.Diverged is { } why)
        {
            Console.WriteLine($"{DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss zzz} {settings.ResourceCode}: {why}; re-sent in full so the node matches the source.");
        }

        Print(result, settings);
    }

    private static void Print(SyncResult result, SyncSettings settings) => Console.WriteLine(result.Outcome == SyncOutcome.UpToDate
        ? $"{DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss zzz} {settings.ResourceCode}: {result.RowsScanned:N0} rows scanned, none changed; nothing pushed."
        : $"{DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss zzz} {settings.ResourceCode}: pushed {result.RowsPushed:N0} of {result.RowsScanned:N0} rows ({result.Mode}{(result.DeletionsDetected > 0 ? $", {result.DeletionsDetected:N0} deleted at the source" : "")}), exchange {result.Receipt!.ExchangeId}.");
}
