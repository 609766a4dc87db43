using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// Merge pushes through a real node over real TLS: upserts and deletes by the resource's key items
/// make the next version, every refusal publishes nothing, and the version chain stays whole.
/// </summary>
public sealed class MergePushTests : IAsyncLifetime
{
    private ExchangeFixture _f = null!;

    public async Task InitializeAsync()
    {
        _f = await ExchangeFixture.StartAsync();

        // The person's id number is the resource's key.
        var catalog = _f.Node.Services.GetRequiredService<CatalogStore>();
        var entry = catalog.Get(Unconditional)!;
        var items = entry.Items.Select(i => i.Id == "id_number" ? i with { Key = true } : i).ToList();
        Assert.True(catalog.Update(Unconditional, entry with { Items = items }, entry.Version, Caller(_f.Provider)).Succeeded);
    }

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private DatasetStore Store => _f.Node.Services.GetRequiredService<DatasetStore>();

    [Fact]
    public async Task Merge_UpsertsAndDeletes_NextVersionIsUntouchedRowsInOrderThenUpserts()
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 2500)).StatusCode);

        // Row 5 changes its name, row 1200 is deleted (only its key given), a new person is added.
        var change = new MergeRow(IdNumber(5), "王五", Income: 1);
        var delete = new MergeRow(IdNumber(1200), null, Delete: true);
        var added = new MergeRow("530102199901019999", "赵六", Income: 2);
        using var response = await MergeAsync(Batch(change, delete, added));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var receipt = JsonDocument.Parse(body).RootElement;
        Assert.Equal(2, receipt.GetProperty("version").GetInt32());
        Assert.Equal(JsonValueKind.String, receipt.GetProperty("mode").ValueKind);
        Assert.Equal("merge", receipt.GetProperty("mode").GetString(), ignoreCase: true);
        Assert.Equal(2500, receipt.GetProperty("rows").GetInt64());
        var merge = receipt.GetProperty("merge");
        Assert.Equal((2, 1, 1, 1), (merge.GetProperty("upserts").GetInt64(), merge.GetProperty("deletes").GetInt64(), merge.GetProperty("replaced").GetInt64(), merge.GetProperty("deleted").GetInt64()));

        var rows = await StoredRowsAsync();
        var expected = Enumerable.Range(0, 2500).Where(i => i is not 5 and not 1200).Select(i => (IdNumber(i), Name(i), 30000.0 + i))
            .Append((change.Id!, change.Name!, 1.0)).Append((added.Id!, added.Name!, 2.0)).ToList();
        Assert.Equal(expected, rows.Select(r => (r.Id, r.Name!, r.Income!.Value)));

        // The version chain: a replace, then the merge; version 1 is untouched (immutable).
        var versions = Store.Versions(Unconditional);
        Assert.Equal([(1, PushMode.Replace, 2500L), (2, PushMode.Merge, 2500L)], versions.Select(v => (v.Version, v.Mode, v.Rows)));
        Assert.Equal(2500, (await StoredRowsAsync(versions[0])).Count);

        // Made by segments: version 1's file, with its rows 5 and 1200 left out, then a file of the two upserts.
        var whole = Assert.Single(versions[0].Segments);
        Assert.Null(whole.Deleted);
        Assert.Equal(2, versions[1].Segments.Count);
        Assert.Equal((whole.File, whole.Blocks), (versions[1].Segments[0].File, versions[1].Segments[0].Blocks));
        Assert.Equal([5L, 1200L], versions[1].Segments[0].Deleted!.Positions);
        Assert.Equal((2L, (DeletedRows?)null), (versions[1].Segments[1].Rows, versions[1].Segments[1].Deleted));

        // The exchange log records the push as a push, with its mode and the rows it carried.
        var record = LogStore.ForDataFolder(_f.Node.DataPath).ReadEntries(LogKind.Exchange)
            .Where(e => e.Type == LogEntryType.Record)
            .Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone())
            .Single(r => r.GetProperty("exchangeId").GetString() == receipt.GetProperty("exchangeId").GetString());
        Assert.Equal("push", record.GetProperty("kind").GetString());
        Assert.Equal("merge", record.GetProperty("mode").GetString());
        Assert.Equal(3, record.GetProperty("rows").GetInt64());
        Assert.Equal(200, record.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Merge_AgainAndAgain_EachVersionBuildsOnTheLast_DeleteOfAnUnknownKeyIsNoError()
    {
        // The first version may come from a merge: there is nothing to merge into.
        using (var first = await MergeAsync(Batch(new MergeRow("530102200001010001", "甲"), new MergeRow("530102200001010002", "乙"))))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var second = await MergeAsync(Batch(new MergeRow("530102200001010001", null, Delete: true), new MergeRow("530102200001010009", null, Delete: true))))
        {
            var merge = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("merge");
            Assert.Equal(1, merge.GetProperty("deleted").GetInt64());
        }

        using (var third = await MergeAsync(Batch(new MergeRow("530102200001010002", "乙（改）"), new MergeRow("530102200001010003", "丙"))))
        {
            Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        }

        Assert.Equal([("530102200001010002", "乙（改）"), ("530102200001010003", "丙")], (await StoredRowsAsync()).Select(r => (r.Id, r.Name)));
        Assert.Equal([1, 2, 3], Store.Versions(Unconditional).Select(v => v.Version));
        Assert.Equal([2L, 1L, 2L], Store.Versions(Unconditional).Select(v => v.Rows));
    }

    [Fact]
    public async Task Merge_AtScale_RepeatedMerges_HoldExactlyTheRowsOfAReplaceOfTheSameData_InEveryFormat_AndAfterARestart()
    {
        // 20,000 rows in 4 stored batches: changes land in several batches and, later, in earlier merges' own segments.
        var model = Enumerable.Range(0, 20_000).Select(i => new MergeRow(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"53010219{i:D10}"), Name(i), i)).ToList();
        using (var first = await PushItemsAsync("replace", [.. model.Chunk(5000).Select(c => Batch(c))]))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        List<MergeRow[]> rounds =
        [
            // upserts of existing keys in three batches, a new key, deletes in two batches, a delete of an unknown key
            [new(model[3].Id, "改一", 1), new(model[7_777].Id, "改二", 2), new(model[19_999].Id, "改三", 3), new("530102990000000001", "新一", 4),
             new(model[0].Id, null, Delete: true), new(model[12_345].Id, null, Delete: true), new("530102990000000002", null, Delete: true)],
            // the row upserted last time changes again (it now lives in the previous merge's segment); the new one is deleted
            [new(model[3].Id, "再改", 5), new("530102990000000001", null, Delete: true)],
            // both deleted keys come back
            [new(model[0].Id, "回来", 6), new("530102990000000001", "又新", 7)],
            // deletes only
            [new(model[1].Id, null, Delete: true), new(model[2].Id, null, Delete: true)],
        ];
        foreach (var round in rounds)
        {
            using var response = await MergeAsync(Batch(round));
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            model = Apply(model, round);
            Assert.Equal(model, (await StoredRowsAsync()).Select(r => new MergeRow(r.Id, r.Name, r.Income)));
        }

        var merged = Store.Latest(Unconditional)!;
        Assert.Equal((5, PushMode.Merge, (long)model.Count, 5), (merged.Version, merged.Mode, merged.Rows, merged.Segments.Count));
        Assert.Equal(model.Count, merged.Segments.Sum(s => s.LiveRows));

        // A restart reads the records back (deleted rows included) and the key indexes from their files (built afresh where there is none).
        await _f.Node.RestartAsync();
        Assert.Equal(merged, Store.Latest(Unconditional));
        Assert.Equal(model, (await StoredRowsAsync()).Select(r => new MergeRow(r.Id, r.Name, r.Income)));
        MergeRow[] afterRestart = [new(model[100].Id, "重启后", 8), new(model[200].Id, null, Delete: true)];
        using (var response = await MergeAsync(Batch(afterRestart)))
        {
            var merge = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("merge");
            Assert.Equal((1L, 1L), (merge.GetProperty("replaced").GetInt64(), merge.GetProperty("deleted").GetInt64()));
        }

        model = Apply(model, afterRestart);

        // Every format of a pull of the merged version equals the same pull after a replace with the same rows.
        var ofMerge = await PullEveryFormatAsync();
        using (var replace = await PushItemsAsync("replace", [.. model.Chunk(5000).Select(c => Batch(c))]))
        {
            Assert.Equal(HttpStatusCode.OK, replace.StatusCode);
        }

        var ofReplace = await PullEveryFormatAsync();
        Assert.Equal(model.Count, ofMerge.Rows);
        Assert.Equal(ofReplace, ofMerge);

        // An append after merges checks its keys against the live rows only: a deleted key may come back, a live one may not.
        using (var replace = await PushItemsAsync("replace", [.. model.Chunk(5000).Select(c => Batch(c))]))
        {
            Assert.Equal(HttpStatusCode.OK, replace.StatusCode);
        }

        using (var del = await MergeAsync(Batch(new MergeRow(model[5].Id, null, Delete: true))))
        {
            Assert.Equal(HttpStatusCode.OK, del.StatusCode);
        }

        using (var back = await PushItemsAsync("append", Batch(new MergeRow(model[5].Id, "追加"))))
        {
            Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        }

        using (var twice = await PushItemsAsync("append", Batch(new MergeRow(model[6].Id, "重复"))))
        {
            await ProblemAssert.IsProblemAsync(twice, HttpStatusCode.BadRequest, ProblemTypes.InvalidMergeKey);
        }
    }

    [Fact]
    public async Task Merge_RemovingOverAQuarterOfTheStoredRows_Compacts_AndRetentionKeepsExactlyTheFilesOfKeptVersions()
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 100)).StatusCode);
        var original = Assert.Single(Store.Latest(Unconditional)!.Segments).File;

        // Small merges, each by segments: the original file stays shared by every version.
        for (var i = 0; i < 6; i++)
        {
            using var response = await MergeAsync(Batch(new MergeRow(IdNumber(i), "改" + i, i)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var versions = Store.Versions(Unconditional);
        Assert.Equal([3, 4, 5, 6, 7], versions.Select(v => v.Version)); // KeepVersions 5
        Assert.All(versions, v => Assert.Equal(original, v.Segments[0].File));
        Assert.Equal(6, versions[^1].Segments[0].Deleted!.Count);
        Assert.Equal(versions.SelectMany(v => v.Segments).Select(s => s.File).ToHashSet(StringComparer.Ordinal), SegmentFiles());
        Assert.True(File.Exists(Path.Combine(Store.Folder, original + SegmentKeyIndexFile.Extension)));

        // 30 of the 100 rows deleted at once: over a quarter, so the version is written whole again.
        using (var big = await MergeAsync(Batch([.. Enumerable.Range(50, 30).Select(i => new MergeRow(IdNumber(i), null, Delete: true))])))
        {
            var merge = (await big.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("merge");
            Assert.Equal(30, merge.GetProperty("deleted").GetInt64());
        }

        var compacted = Store.Latest(Unconditional)!;
        var segment = Assert.Single(compacted.Segments);
        Assert.Equal((70L, 70L, (DeletedRows?)null), (compacted.Rows, segment.Rows, segment.Deleted));
        // Untouched rows in their order, then the upserts in the order they were merged.
        var expected = Enumerable.Range(6, 94).Where(i => i is < 50 or >= 80).Select(i => (IdNumber(i), Name(i)))
            .Concat(Enumerable.Range(0, 6).Select(i => (IdNumber(i), "改" + i)));
        Assert.Equal(expected, (await StoredRowsAsync()).Select(r => (r.Id, r.Name!)));

        // Five more versions: the original file is then referenced by no kept version and is deleted.
        for (var i = 0; i < 5; i++)
        {
            using var response = await MergeAsync(Batch(new MergeRow(IdNumber(90 + i), "再" + i, i)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.False(File.Exists(Path.Combine(Store.Folder, original)));
        Assert.False(File.Exists(Path.Combine(Store.Folder, original + SegmentKeyIndexFile.Extension)));
        Assert.Equal(Store.Versions(Unconditional).SelectMany(v => v.Segments).Select(s => s.File).ToHashSet(StringComparer.Ordinal), SegmentFiles());
        Assert.Equal(70, (await StoredRowsAsync()).Count);
    }

    [Fact]
    public async Task Merge_AfterAReplace_ReadsNoStoredRow_ItsKeysWereIndexedWhenPushed()
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 3000)).StatusCode);
        var file = Path.Combine(Store.Folder, Assert.Single(Store.Latest(Unconditional)!.Segments).File);

        // The stored file out of the node's reach: a merge that read it would fail.
        await MergeOneChangeAndOneDeleteWithTheFileAwayAsync(file);
        var expected = Enumerable.Range(1, 2998).Select(i => (IdNumber(i), Name(i))).Append((IdNumber(2999), "改"));
        Assert.Equal(expected, (await StoredRowsAsync()).Select(r => (r.Id, r.Name!)));
    }

    [Fact]
    public async Task Merge_AfterARestart_TakesTheKeyIndexKeptOnDiskAtThePush_ReadsNoStoredRow()
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 3000)).StatusCode);
        var segment = Assert.Single(Store.Latest(Unconditional)!.Segments);
        Assert.True(File.Exists(SegmentKeyIndexFile.PathOf(Store.Folder, segment)));

        // A restart forgets every index in memory; the stored file out of the node's reach: a merge that read it would fail.
        await _f.Node.RestartAsync();
        var file = Path.Combine(Store.Folder, segment.File);
        await MergeOneChangeAndOneDeleteWithTheFileAwayAsync(file);
        Assert.Contains(_f.Node.Logs, l => l.Contains("DatasetKeyIndexLoaded", StringComparison.Ordinal) && l.Contains(segment.File, StringComparison.Ordinal));
        Assert.DoesNotContain(_f.Node.Logs, l => l.Contains("DatasetKeyIndexBuilt", StringComparison.Ordinal));
        var expected = Enumerable.Range(1, 2998).Select(i => (IdNumber(i), Name(i))).Append((IdNumber(2999), "改"));
        Assert.Equal(expected, (await StoredRowsAsync()).Select(r => (r.Id, r.Name!)));
    }

    /// <summary>
    /// Merges one changed row (2999) and one delete (0) while the stored segment is out of the node's
    /// reach, so the merge succeeds only if it found the rows by a key index, never by reading the file.
    /// </summary>
    private async Task MergeOneChangeAndOneDeleteWithTheFileAwayAsync(string file)
    {
        File.Move(file, file + ".away");
        using (var response = await MergeAsync(Batch(new MergeRow(IdNumber(2999), "改", 1), new MergeRow(IdNumber(0), null, Delete: true))))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            var merge = JsonDocument.Parse(body).RootElement.GetProperty("merge");
            Assert.Equal((1L, 1L), (merge.GetProperty("replaced").GetInt64(), merge.GetProperty("deleted").GetInt64()));
        }

        File.Move(file + ".away", file);
    }

    [Theory]
    [InlineData("damaged")]
    [InlineData("truncated")]
    [InlineData("another segment's")]
    [InlineData("another node's")]
    [InlineData("missing")]
    public async Task Merge_AfterARestart_AnUntrustworthyKeyIndexFile_IsIgnored_TheIndexBuiltByReadingAndRewritten_TheVersionExact(string how)
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 3000)).StatusCode);
        var first = Assert.Single(Store.Latest(Unconditional)!.Segments);
        var index = SegmentKeyIndexFile.PathOf(Store.Folder, first);
        var good = await File.ReadAllBytesAsync(index);
        await _f.Node.RestartAsync();

        // Each file, if used, would name other rows (or none): the merge must not take it.
        switch (how)
        {
            case "damaged":
                var bytes = good.ToArray();
                bytes[bytes.Length / 2] ^= 0x10;
                await File.WriteAllBytesAsync(index, bytes);
                break;
            case "truncated":
                await File.WriteAllBytesAsync(index, good.AsSpan(0, good.Length - 24).ToArray());
                break;
            case "another segment's":
                // A second resource keyed the same way, its push of 3000 rows: a valid index of another file, of the same size.
                var catalog = _f.Node.Services.GetRequiredService<CatalogStore>();
                var entry = catalog.Get(Conditional)!;
                Assert.True(catalog.Update(Conditional, entry with { Items = [.. entry.Items.Select(i => i.Id == "id_number" ? i with { Key = true } : i)] }, entry.Version, Caller(_f.Provider)).Succeeded);
                using (var second = await _f.PushAsync(Conditional, 3000))
                {
                    Assert.Equal(HttpStatusCode.OK, second.StatusCode);
                }

                var other = Assert.Single(Store.Latest(Conditional)!.Segments);
                File.Copy(SegmentKeyIndexFile.PathOf(Store.Folder, other), index, overwrite: true);
                break;
            case "another node's":
                File.Delete(Path.Combine(Store.Folder, KeyIndexSecret.FileName));
                await _f.Node.RestartAsync(); // a new secret, as on another node holding these files
                break;
            default:
                File.Delete(index);
                break;
        }

        using (var response = await MergeAsync(Batch(new MergeRow(IdNumber(1500), "改", 1), new MergeRow(IdNumber(7), null, Delete: true))))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            var merge = JsonDocument.Parse(body).RootElement.GetProperty("merge");
            Assert.Equal((1L, 1L), (merge.GetProperty("replaced").GetInt64(), merge.GetProperty("deleted").GetInt64()));
        }

        Assert.Contains(_f.Node.Logs, l => l.Contains("DatasetKeyIndexBuilt", StringComparison.Ordinal) && l.Contains(first.File, StringComparison.Ordinal));
        var expected = Enumerable.Range(0, 3000).Where(i => i is not 7 and not 1500).Select(i => (IdNumber(i), Name(i))).Append((IdNumber(1500), "改"));
        Assert.Equal(expected, (await StoredRowsAsync()).Select(r => (r.Id, r.Name!)));

        // Rewritten: after the next restart it is taken again without reading the segment.
        await _f.Node.RestartAsync();
        var file = Path.Combine(Store.Folder, first.File);
        File.Move(file, file + ".away");
        using (var response = await MergeAsync(Batch(new MergeRow(IdNumber(8), null, Delete: true))))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal(1L, JsonDocument.Parse(body).RootElement.GetProperty("merge").GetProperty("deleted").GetInt64());
        }

        File.Move(file + ".away", file);
        Assert.Equal(expected.Count() - 1, (await StoredRowsAsync()).Count);
    }

    [Fact]
    public async Task Merge_ARecordWhoseDeletedRowsAreNotIncreasingPositionsInTheSegment_IsRefusedNotServed()
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 10)).StatusCode);
        byte[] Positions(params long[] p) => [.. p.SelectMany(BitConverter.GetBytes)];
        var converter = typeof(DatasetStore).Assembly.GetType("GovShare.Node.Exchange.Datasets.DeletedRows")!
            .GetMethod("FromBytes", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        DeletedRows? Read(byte[] bytes) => (DeletedRows?)converter.Invoke(null, [bytes, 10L]);
        Assert.Equal([1L, 4L], Read(Positions(1, 4))!.Positions);
        foreach (var bad in new[] { Positions(4, 1), Positions(1, 1), Positions(10), Positions(-1), [1, 2, 3] })
        {
            var thrown = Assert.Throws<System.Reflection.TargetInvocationException>(() => Read(bad));
            Assert.IsType<InvalidDataException>(thrown.InnerException);
        }
    }

    private static List<MergeRow> Apply(List<MergeRow> rows, MergeRow[] changes)
    {
        var named = changes.Select(c => c.Id).ToHashSet();
        return [.. rows.Where(r => !named.Contains(r.Id)), .. changes.Where(c => !c.Delete).Select(c => c with { Delete = false })];
    }

    /// <summary>The latest version pulled by its provider as Arrow (rows as text), JSON and CSV.</summary>
    private async Task<(long Rows, string Arrow, string Json, string Csv)> PullEveryFormatAsync()
    {
        using var client = _f.Node.Client(_f.Provider.Certificate);
        using var arrow = await client.SendAsync(Pull(Unconditional, "stats"));
        Assert.Equal(HttpStatusCode.OK, arrow.StatusCode);
        var (_, batches) = await ReadAsync(arrow);
        var text = new System.Text.StringBuilder();
        foreach (var batch in batches)
        {
            for (var i = 0; i < batch.Length; i++)
            {
                for (var c = 0; c < batch.ColumnCount; c++)
                {
                    text.Append(batch.Column(c) switch
                    {
                        StringArray s => s.GetString(i),
                        DoubleArray d => d.GetValue(i)?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        Date32Array d => d.GetDateOnly(i)?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                        var other => other.IsNull(i) ? null : "?",
                    }).Append('|');
                }

                text.Append('\n');
            }
        }

        using var json = await client.SendAsync(Pull(Unconditional, "stats", accept: "application/json"));
        using var csv = await client.SendAsync(Pull(Unconditional, "stats", accept: "text/csv"));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (json.StatusCode, csv.StatusCode));
        return (batches.Sum(b => (long)b.Length), text.ToString(), await json.Content.ReadAsStringAsync(), await csv.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Merge_ResourceWithoutKeyItems_409NoKeyItems_NothingPublished()
    {
        using var response = await MergeAsync(Batch(new MergeRow(IdNumber(1), "x")), Conditional);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, ProblemTypes.NoKeyItems);
        Assert.Contains("key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(Store.Versions(Conditional));
    }

    [Fact]
    public async Task Merge_KeyTwice_400NamesBothRows_NothingPublished()
    {
        await _f.PushAsync(Unconditional, 10);

        using var response = await MergeAsync(Batch(new MergeRow(IdNumber(1), "a"), new MergeRow(IdNumber(2), "b")), Batch(new MergeRow(IdNumber(3), "c"), new MergeRow(IdNumber(1), null, Delete: true)));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidMergeKey);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal("key-duplicate", error.GetProperty("rule").GetString());
        Assert.Equal((1, 1), (error.GetProperty("batch").GetInt32(), error.GetProperty("row").GetInt32()));
        Assert.Contains("batch 0, row 0", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Single(Store.Versions(Unconditional));
    }

    [Fact]
    public async Task Merge_NullKey_400NamesItemAndRow_NothingPublished()
    {
        await _f.PushAsync(Unconditional, 10);

        using var response = await MergeAsync(Batch(new MergeRow(IdNumber(1), "a"), new MergeRow(null, "b")));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidMergeKey);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal(("key-null", "id_number", 0, 1), (error.GetProperty("rule").GetString(), error.GetProperty("item").GetString(), error.GetProperty("batch").GetInt32(), error.GetProperty("row").GetInt32()));
        Assert.Single(Store.Versions(Unconditional));
    }

    [Fact]
    public async Task Merge_UpsertValueBreaksItsRule_400NamesThePushRowNotTheUpsertRow()
    {
        await _f.PushAsync(Unconditional, 10);

        // Row 2 of the push is the second upsert; its name is longer than the item's 50 characters.
        using var response = await MergeAsync(Batch(new MergeRow(IdNumber(1), null, Delete: true), new MergeRow(IdNumber(2), "b"), new MergeRow(IdNumber(3), new string('长', 51))));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidValue);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal(("length", "name", 2), (error.GetProperty("rule").GetString(), error.GetProperty("item").GetString(), error.GetProperty("row").GetInt32()));
        Assert.Contains("row 2:", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Single(Store.Versions(Unconditional));
    }

    [Fact]
    public async Task Merge_DeleteColumnNotBoolean_400SchemaMismatch_AndOtherModesRefuseIt()
    {
        await _f.PushAsync(Unconditional, 10);
        var text = Batch(new MergeRow(IdNumber(1), "a"));
        var wrong = new RecordBatch(
            new Schema([.. text.Schema.FieldsList.Take(5), new Field(MergeWire.DeleteColumn, StringType.Default, true)], null),
            [.. Enumerable.Range(0, 5).Select(text.Column), new StringArray.Builder().Append("yes").Build()],
            1);

        using (var response = await MergeAsync(wrong))
        {
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.SchemaMismatch);
            Assert.Contains(MergeWire.DeleteColumn, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // A replace does not know the delete column: it is an extra column there.
        using var client = _f.Node.Client(_f.Provider.Certificate);
        using (var replace = await client.PostAsync(DataPath(Unconditional, "mode=replace"), ArrowContent(await StreamAsync([Batch(new MergeRow(IdNumber(1), "a"))]))))
        {
            var problem = await ProblemAssert.IsProblemAsync(replace, HttpStatusCode.BadRequest, ProblemTypes.SchemaMismatch);
            Assert.Contains(MergeWire.DeleteColumn, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Single(Store.Versions(Unconditional));
    }

    [Fact]
    public async Task Merge_AnotherVersionPublishedMeanwhile_ConflictNothingPublished()
    {
        await _f.PushAsync(Unconditional, 10);
        var schema = _f.Node.Services.GetRequiredService<CatalogStore>().Get(Unconditional)!.ArrowSchema();
        var latest = Store.Latest(Unconditional)!;

        // A merge made from version 1 …
        await using var merge = await Store.BeginPushAsync(Unconditional, PushMode.Merge, schema, ExchangeId.New(TimeProvider.System), basedOn: latest.Version);

        // … while a replace publishes version 2.
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 3)).StatusCode);

        await Assert.ThrowsAsync<DatasetMergeConflictException>(() => merge.CommitAsync());
        Assert.Equal([1, 2], Store.Versions(Unconditional).Select(v => v.Version));
        Assert.Empty(Directory.EnumerateFiles(Store.Folder, "*" + ".arrows.tmp"));
    }

    [Fact]
    public async Task Replace_KeyTwice_400NamesTheRowAndTheFirstWithItsKey_NothingPublished()
    {
        await _f.PushAsync(Unconditional, 10);

        // Batch 1, row 1 repeats batch 0, row 0's key; batch 1, row 2 repeats batch 1, row 0's.
        using var response = await PushItemsAsync("replace",
            Batch(new MergeRow(IdNumber(1), "a"), new MergeRow(IdNumber(2), "b")),
            Batch(new MergeRow(IdNumber(3), "c"), new MergeRow(IdNumber(1), "d"), new MergeRow(IdNumber(3), "e")));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidMergeKey);
        var errors = problem.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal([(1, 1), (1, 2)], errors.Select(e => (e.GetProperty("batch").GetInt32(), e.GetProperty("row").GetInt32())));
        Assert.All(errors, e => Assert.Equal(("key-duplicate", "id_number"), (e.GetProperty("rule").GetString(), e.GetProperty("item").GetString())));
        Assert.Contains("the same key as batch 0, row 0", errors[0].GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("the same key as batch 1, row 0", errors[1].GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal([(1, 10L)], Store.Versions(Unconditional).Select(v => (v.Version, v.Rows)));
        Assert.Empty(Directory.EnumerateFiles(Store.Folder, "*.arrows.tmp"));
    }

    [Fact]
    public async Task Append_KeyAlreadyStored_400NamesTheStoredRow_NewKeysOnlyAreAppended()
    {
        await _f.PushAsync(Unconditional, 10);

        using (var response = await PushItemsAsync("append", Batch(new MergeRow("530102199901019999", "新"), new MergeRow(IdNumber(7), "改"))))
        {
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidMergeKey);
            var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
            Assert.Equal(("key-duplicate", 0, 1), (error.GetProperty("rule").GetString(), error.GetProperty("batch").GetInt32(), error.GetProperty("row").GetInt32()));
            Assert.Contains("row 7 of the stored version 1", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Single(Store.Versions(Unconditional));
        }

        // Only new keys: appended, and the next append checks against them too.
        using (var response = await PushItemsAsync("append", Batch(new MergeRow("530102199901019999", "新"))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await PushItemsAsync("append", Batch(new MergeRow("530102199901019999", "又"))))
        {
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidMergeKey);
            Assert.Contains("row 10 of the stored version 2", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal([(1, 10L), (2, 11L)], Store.Versions(Unconditional).Select(v => (v.Version, v.Rows)));
    }

    [Fact]
    public async Task Append_AfterAReplaceAndAMerge_ReadsNoStoredRow_NamesTheLiveStoredRow_TakesAKeyTheMergeDeleted()
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 3000)).StatusCode);
        using (var response = await MergeAsync(Batch(new MergeRow(IdNumber(5), null, Delete: true))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The replace's file out of the node's reach: an append that read the stored rows would fail;
        // its keys were indexed when it was pushed.
        var file = Path.Combine(Store.Folder, Store.Latest(Unconditional)!.Segments[0].File);
        File.Move(file, file + ".away");
        try
        {
            using (var response = await PushItemsAsync("append", Batch(new MergeRow("530102199901019999", "新"), new MergeRow(IdNumber(5), "回来"))))
            {
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            }

            using (var response = await PushItemsAsync("append", Batch(new MergeRow("530102199901018888", "新"), new MergeRow(IdNumber(7), "改"))))
            {
                var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidMergeKey);
                var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
                Assert.Equal(("key-duplicate", 0, 1), (error.GetProperty("rule").GetString(), error.GetProperty("batch").GetInt32(), error.GetProperty("row").GetInt32()));
                // Row 6, not 7: the merge deleted a row before it.
                Assert.Contains("row 6 of the stored version 3", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Move(file + ".away", file);
        }

        Assert.Equal([(1, 3000L), (2, 2999L), (3, 3001L)], Store.Versions(Unconditional).Select(v => (v.Version, v.Rows)));
        var stored = (await StoredRowsAsync()).Select(r => r.Id).ToList();
        Assert.Equal(3001, stored.Distinct().Count());
        Assert.Contains(IdNumber(5), stored);
    }

    [Fact]
    public async Task Merge_OverTheMergeCap_413NamesTheSetting_AReplaceOfTheSameSizeIsTaken()
    {
        await using var f = await ExchangeFixture.StartAsync(s => s["Exchange:MaxMergeBytes"] = "4096");
        var catalog = f.Node.Services.GetRequiredService<CatalogStore>();
        var entry = catalog.Get(Unconditional)!;
        Assert.True(catalog.Update(Unconditional, entry with { Items = [.. entry.Items.Select(i => i.Id == "id_number" ? i with { Key = true } : i)] }, entry.Version, Caller(f.Provider)).Succeeded);
        var rows = Enumerable.Range(0, 200).Select(i => new MergeRow(IdNumber(i), Name(i))).ToArray();
        var merge = await StreamAsync([Batch(rows)]);
        var replace = await StreamAsync([WithoutDeleteColumn(Batch(rows))]);
        Assert.True(merge.Length > 4096 && replace.Length > 4096);
        using var client = f.Node.Client(f.Provider.Certificate);

        // Refused by its declared length, before a byte is read (a chunked body is cut by Kestrel at the same cap).
        // The node closes the connection after refusing an unread body, so the client asks before sending it
        // (Expect: 100-continue); should a loaded machine still let the body race the close, it asks again.
        HttpResponseMessage? refused = null;
        for (var attempt = 0; refused is null && attempt < 5; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, DataPath(Unconditional, "mode=merge")) { Content = ArrowContent(merge) };
            request.Headers.ExpectContinue = true;
            try
            {
                refused = await client.SendAsync(request);
            }
            catch (HttpRequestException)
            {
            }
        }

        var problem = await ProblemAssert.IsProblemAsync(refused!, HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        Assert.Contains("Exchange:MaxMergeBytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var store = f.Node.Services.GetRequiredService<DatasetStore>();
        Assert.Empty(store.Versions(Unconditional));

        // The node's push cap (1 GiB) still holds for a replace.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(DataPath(Unconditional, "mode=replace"), ArrowContent(replace))).StatusCode);
        Assert.Equal(200, store.Latest(Unconditional)!.Rows);
    }

    [Fact]
    public async Task CatalogKeyItem_MustNotBeNullableNorFloat()
    {
        var catalog = _f.Node.Services.GetRequiredService<CatalogStore>();
        var entry = catalog.Get(Conditional)!;
        var items = entry.Items.Select(i => i.Id is "name" or "income" ? i with { Key = true } : i).ToList();

        var result = catalog.Update(Conditional, entry with { Items = items }, entry.Version, Caller(_f.Provider));

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors!, e => e.Code == "key.nullable" && e.Path.EndsWith(".key", StringComparison.Ordinal));
        Assert.Contains(result.Errors!, e => e.Code == "key.notForType");
        await Task.CompletedTask;
    }

    /// <summary>
    /// The store folder's files, each key index file (beside its segment) and the key secret aside;
    /// checks that no key index file outlives its segment.
    /// </summary>
    private HashSet<string> SegmentFiles()
    {
        var names = Directory.EnumerateFiles(Store.Folder).Select(f => Path.GetFileName(f)).Where(n => n != KeyIndexSecret.FileName).ToList();
        var segments = names.Where(n => !n.EndsWith(SegmentKeyIndexFile.Extension, StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        Assert.All(names.Where(n => n.EndsWith(SegmentKeyIndexFile.Extension, StringComparison.Ordinal)), n => Assert.Contains(n[..^SegmentKeyIndexFile.Extension.Length], segments));
        return segments;
    }

    private async Task<HttpResponseMessage> MergeAsync(params RecordBatch[] batches) => await MergeAsync(batches, Unconditional);

    private async Task<HttpResponseMessage> MergeAsync(RecordBatch batch, string code) => await MergeAsync([batch], code);

    private async Task<HttpResponseMessage> MergeAsync(RecordBatch[] batches, string code)
    {
        using var client = _f.Node.Client(_f.Provider.Certificate);
        return await client.PostAsync(DataPath(code, "mode=merge"), ArrowContent(await StreamAsync(batches)));
    }

    /// <summary>A replace or append of the batches, without the merge's delete column.</summary>
    private async Task<HttpResponseMessage> PushItemsAsync(string mode, params RecordBatch[] batches)
    {
        using var client = _f.Node.Client(_f.Provider.Certificate);
        return await client.PostAsync(DataPath(Unconditional, "mode=" + mode), ArrowContent(await StreamAsync(batches.Select(WithoutDeleteColumn))));
    }

    private static RecordBatch WithoutDeleteColumn(RecordBatch batch) =>
        new(new Schema(batch.Schema.FieldsList.Take(5), null), Enumerable.Range(0, 5).Select(batch.Column), batch.Length);

    internal sealed record MergeRow(string? Id, string? Name, double? Income = 0, bool Delete = false);

    private sealed record StoredRow(string Id, string? Name, double? Income);

    /// <summary>A merge batch: the resource's five items by name, then the delete column.</summary>
    internal static RecordBatch Batch(params MergeRow[] rows)
    {
        var ids = new StringArray.Builder();
        var names = new StringArray.Builder();
        var births = new Date32Array.Builder();
        var incomes = new DoubleArray.Builder();
        var addresses = new StringArray.Builder();
        var deletes = new BooleanArray.Builder();
        foreach (var row in rows)
        {
            if (row.Id is null)
            {
                ids.AppendNull();
            }
            else
            {
                ids.Append(row.Id);
            }

            if (row.Name is null)
            {
                names.AppendNull();
            }
            else
            {
                names.Append(row.Name);
            }

            births.AppendNull();
            if (row.Delete)
            {
                incomes.AppendNull();
            }
            else
            {
                incomes.Append(row.Income ?? 0);
            }

            addresses.AppendNull();
            deletes.Append(row.Delete);
        }

        var schema = new Schema.Builder()
            .Field(new Field("公民身份号码", StringType.Default, true))
            .Field(new Field("姓名", StringType.Default, true))
            .Field(new Field("出生日期", Date32Type.Default, true))
            .Field(new Field("Annual Income", DoubleType.Default, true))
            .Field(new Field("住址", StringType.Default, true))
            .Field(new Field(MergeWire.DeleteColumn, BooleanType.Default, true))
            .Build();
        return new RecordBatch(schema, [ids.Build(), names.Build(), births.Build(), incomes.Build(), addresses.Build(), deletes.Build()], rows.Length);
    }

    private async Task<List<StoredRow>> StoredRowsAsync(DatasetVersion? version = null)
    {
        await using var reader = Store.OpenRead(version ?? Store.Latest(Unconditional)!);
        var rows = new List<StoredRow>();
        await foreach (var batch in reader.ReadBatchesAsync())
        {
            using (batch)
            {
                for (var i = 0; i < batch.Length; i++)
                {
                    var income = (DoubleArray)batch.Column(3);
                    rows.Add(new StoredRow(((StringArray)batch.Column(0)).GetString(i), ((StringArray)batch.Column(1)).GetString(i), income.IsNull(i) ? null : income.GetValue(i)));
                }
            }
        }

        return rows;
    }
}
