using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Exchange.Pull;
using GovShare.Node.Logs;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// What a push accepts, every pull delivers: each way a push used to be accepted and then break
/// its pulls is refused with a 400 naming the rule, item, batch and row — or, for offsets, stored
/// canonically and pulled back exactly. A real node over real TLS.
/// </summary>
public sealed class PushValueRulesTests : IAsyncLifetime
{
    public const string Companies = "101002/000001";

    private ExchangeFixture _f = null!;

    public async Task InitializeAsync()
    {
        _f = await ExchangeFixture.StartAsync();
        var catalog = _f.Node.Services.GetRequiredService<CatalogStore>();
        var entry = new CatalogEntry
        {
            ResourceCode = Companies,
            Name = "Kunming legal persons",
            Provider = new DepartmentRef(_f.Provider.Division, _f.Provider.CreditCode, _f.Provider.Name),
            Abstract = "Registered legal persons of Kunming",
            Format = ResourceFormat.Database,
            Share = new ShareAttributes(ShareType.Unconditional),
            UpdateCycle = UpdateCycle.Daily,
            ReleaseDate = new DateOnly(2026, 1, 1),
            SecrecyReview = ExchangeFixture.Reviewed,
            Items =
            [
                new InformationItem("credit_code", "统一社会信用代码", "utf8", 18, Nullable: false),
                new InformationItem("name", "名称", "utf8", 200),
                new InformationItem("founded", "成立日期", "date32"),
                new InformationItem("registered", "登记时间", "timestamp"),
                new InformationItem("capital", "注册资本", "decimal128(18,2)"),
                new InformationItem("seal", "印章", "binary", 16),
            ],
        };
        Assert.True(catalog.Create(entry, Caller(_f.Provider)).Succeeded);
    }

    public async Task DisposeAsync() => await _f.DisposeAsync();

    /// <summary>One row as pushed; dates in days, instants in microseconds, capital unscaled (cents).</summary>
    public sealed record Company(string? Code, string? Name, int? Founded, long? Registered, Int128? Capital, byte[]? Seal)
    {
        /// <summary>The row as a value (the seal's bytes as hex), for comparing pushed with pulled.</summary>
        public (string?, string?, int?, long?, Int128?, string?) Key => (Code, Name, Founded, Registered, Capital, Seal is null ? null : Convert.ToHexString(Seal));
    }

    private static readonly Schema CompanySchema = new Schema.Builder()
        .Field(ItemDataType.Utf8.ToField("统一社会信用代码"))
        .Field(ItemDataType.Utf8.ToField("名称"))
        .Field(ItemDataType.Date32.ToField("成立日期"))
        .Field(ItemDataType.Timestamp.ToField("登记时间"))
        .Field(ItemDataType.Decimal(18, 2).ToField("注册资本"))
        .Field(ItemDataType.Binary.ToField("印章"))
        .Build();

    public static Company Good(int i) => new(
        $"91530100MA6K{i:D5}X",
        i % 3 == 0 ? "云南某某科技有限公司" : "Kunming Trading " + i,
        19000 + i,
        1_700_000_000_000_000L + (i * 1_000_000L),
        (Int128)(100_000 + i),
        [(byte)i, 1, 2]);

    public static RecordBatch Batch(IReadOnlyList<Company> rows)
    {
        var code = new StringArray.Builder();
        var name = new StringArray.Builder();
        var seal = new BinaryArray.Builder();
        foreach (var r in rows)
        {
            _ = r.Code is null ? code.AppendNull() : code.Append(r.Code);
            _ = r.Name is null ? name.AppendNull() : name.Append(r.Name);
            _ = r.Seal is null ? seal.AppendNull() : seal.Append(r.Seal.AsSpan());
        }

        return new RecordBatch(CompanySchema,
        [
            code.Build(),
            name.Build(),
            Fixed(Date32Type.Default, rows.Select(r => r.Founded).ToList(), 4, (span, v) => BinaryPrimitives.WriteInt32LittleEndian(span, v)),
            Fixed(ItemDataType.Timestamp.ToArrowType(), rows.Select(r => r.Registered).ToList(), 8, (span, v) => BinaryPrimitives.WriteInt64LittleEndian(span, v)),
            Fixed(new Decimal128Type(18, 2), rows.Select(r => r.Capital).ToList(), 16, (span, v) => BinaryPrimitives.WriteInt128LittleEndian(span, v)),
            seal.Build(),
        ], rows.Count);
    }

    /// <summary>A fixed-width array from raw values: any bit pattern, including those no builder makes.</summary>
    public static IArrowArray Fixed<T>(IArrowType type, IReadOnlyList<T?> values, int width, SpanWriter<T> write)
        where T : struct
    {
        var bytes = new byte[values.Count * width];
        var validity = new byte[(values.Count + 7) / 8];
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is { } v)
            {
                write(bytes.AsSpan(i * width, width), v);
                validity[i >> 3] |= (byte)(1 << (i & 7));
            }
        }

        return ArrowArrayFactory.BuildArray(new ArrayData(type, values.Count, values.Count(v => v is null), 0, [new ArrowBuffer(validity), new ArrowBuffer(bytes)]));
    }

    public delegate void SpanWriter<in T>(Span<byte> span, T value);

    private async Task<HttpResponseMessage> PushAsync(byte[] stream)
    {
        using var client = _f.Node.Client(_f.Provider.Certificate);
        return await client.PostAsync(DataPath(Companies), ArrowContent(stream));
    }

    private static async Task<byte[]> StreamOf(params IReadOnlyList<Company>[] batches) => await StreamAsync(batches.Select(Batch));

    private void AssertNoVersion() => Assert.Null(_f.Node.Services.GetRequiredService<DatasetStore>().Latest(Companies));

    private static async Task<List<JsonElement>> InvalidValueAsync(HttpResponseMessage response)
    {
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidValue);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("exchangeId").GetString()));
        return [.. problem.GetProperty("errors").EnumerateArray()];
    }

    private static void AssertViolation(JsonElement error, string item, int batch, int row, string rule, long count)
    {
        Assert.Equal((item, batch, row, rule, count), (error.GetProperty("item").GetString(), error.GetProperty("batch").GetInt32(), error.GetProperty("row").GetInt32(), error.GetProperty("rule").GetString(), error.GetProperty("count").GetInt64()));
        Assert.Contains(FormattableString.Invariant($"batch {batch}, row {row}"), error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)] // 名称 (utf8)
    [InlineData(5)] // 印章 (binary)
    public async Task Push_OffsetsNotStartingAtZero_StoredCanonicallyAndPulledBackExactly(int column)
    {
        List<Company> rows = [Good(0), Good(1) with { Name = "", Seal = [] }, Good(2) with { Name = null, Seal = null }, Good(3), Good(4) with { Name = "甲", Seal = [9] }];
        var stream = await StreamOf(rows);
        ShiftFirstOffset(stream, column);

        var push = await PushAsync(stream);

        Assert.Equal(HttpStatusCode.OK, push.StatusCode);
        var store = _f.Node.Services.GetRequiredService<DatasetStore>();
        var file = await File.ReadAllBytesAsync(Path.Combine(store.Folder, store.Latest(Companies)!.Segments[0].File));
        var (storedOffsets, _) = VariableBuffers(ArrowSamples.Frames(file)[1], column);
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(storedOffsets)));
        using var client = _f.Node.Client(_f.Provider.Certificate);
        using var pull = await client.SendAsync(Pull(Companies, "registry"));
        var (_, batches) = await ReadAsync(pull);
        Assert.Equal(rows.Select(r => r.Key), Rows(batches).Select(r => r.Key));
        using var json = await client.SendAsync(Pull(Companies, "registry", accept: "application/json"));
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        var names = JsonDocument.Parse(await json.Content.ReadAsStringAsync()).RootElement.EnumerateArray().Select(r => r.GetProperty("名称").GetString());
        Assert.Equal(rows.Select(r => r.Name), names);
        using var csv = await client.SendAsync(Pull(Companies, "registry", accept: "text/csv"));
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.Equal(rows.Count + 2, (await csv.Content.ReadAsStringAsync()).Split("\r\n").Length); // header, rows, and the empty tail
    }

    [Fact]
    public async Task Push_DateOutsideYears1To9999_400DateRangeNamingItemBatchRow()
    {
        var max = DateOnly.MaxValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
        var min = DateOnly.MinValue.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
        List<Company> edges = [Good(0) with { Founded = max }, Good(1) with { Founded = min }];
        List<Company> outside = [Good(2), Good(3), Good(4) with { Founded = max + 1 }, Good(5) with { Founded = min - 1 }];

        var errors = await InvalidValueAsync(await PushAsync(await StreamOf(edges, outside)));

        AssertViolation(Assert.Single(errors), "founded", 1, 2, "date-range", 2);
        AssertNoVersion();
    }

    [Fact]
    public async Task Push_TimestampOutsideTheRenderableRange_400TimestampRange()
    {
        var max = (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        List<Company> rows = [Good(0) with { Registered = max }, Good(1) with { Registered = long.MaxValue }, Good(2) with { Registered = long.MinValue }];

        var errors = await InvalidValueAsync(await PushAsync(await StreamOf(rows)));

        AssertViolation(Assert.Single(errors), "registered", 0, 1, "timestamp-range", 2);
        AssertNoVersion();
    }

    [Fact]
    public async Task Push_DecimalWithMoreDigitsThanItsPrecision_400DecimalPrecision()
    {
        var limit = Int128.Parse("1000000000000000000", System.Globalization.CultureInfo.InvariantCulture); // 10^18 unscaled: 19 digits in decimal128(18,2)
        List<Company> rows = [Good(0) with { Capital = limit - 1 }, Good(1) with { Capital = -(limit - 1) }, Good(2) with { Capital = limit }, Good(3) with { Capital = Int128.MinValue }];

        var errors = await InvalidValueAsync(await PushAsync(await StreamOf(rows)));

        AssertViolation(Assert.Single(errors), "capital", 0, 2, "decimal-precision", 2);
        AssertNoVersion();
    }

    [Fact]
    public async Task Push_TextLongerThanItsItemLength_400LengthForEachItem()
    {
        List<Company> rows = [Good(0), Good(1) with { Code = "91530100MA6K000011X" }, Good(2) with { Name = new string('名', 250) }, Good(3) with { Seal = new byte[17] }];

        var errors = await InvalidValueAsync(await PushAsync(await StreamOf(rows)));

        Assert.Equal(3, errors.Count);
        AssertViolation(errors[0], "credit_code", 0, 1, "length", 1);
        AssertViolation(errors[1], "name", 0, 2, "length", 1);
        AssertViolation(errors[2], "seal", 0, 3, "length", 1);
        Assert.Contains("200 characters", errors[1].GetProperty("message").GetString(), StringComparison.Ordinal);
        AssertNoVersion();
    }

    [Fact]
    public async Task Push_TextExactlyAtItsLengthInCharacters_AcceptedAndPulledBackExactly()
    {
        // 200 characters, 601 UTF-8 bytes (𠮷 takes four): the length counts characters, not bytes.
        var name = "𠮷" + new string('名', 199);
        List<Company> rows = [Good(0) with { Name = name, Seal = new byte[16] }, Good(1) with { Name = "" }];

        var push = await PushAsync(await StreamOf(rows));

        Assert.Equal(HttpStatusCode.OK, push.StatusCode);
        using var client = _f.Node.Client(_f.Provider.Certificate);
        var (_, batches) = await ReadAsync(await client.SendAsync(Pull(Companies, "registry")));
        Assert.Equal(rows.Select(r => r.Key), Rows(batches).Select(r => r.Key));
    }

    [Fact]
    public async Task Push_NullInRequiredItem_400RequiredNamingRow()
    {
        var errors = await InvalidValueAsync(await PushAsync(await StreamOf([Good(0)], [Good(1), Good(2) with { Code = null }])));

        AssertViolation(Assert.Single(errors), "credit_code", 1, 1, "required", 1);
        AssertNoVersion();
    }

    [Fact]
    public async Task Push_ManyViolations_ListCappedAndTheRestCounted()
    {
        var wide = Enumerable.Range(0, 30).Select(i => new InformationItem($"c{i}", $"c{i}", "utf8", 1, Nullable: false)).ToList();
        var catalog = _f.Node.Services.GetRequiredService<CatalogStore>();
        Assert.True(catalog.Create(ExchangeFixture.Entry("101002/000002", _f.Provider, new ShareAttributes(ShareType.Unconditional)) with { Items = wide }, Caller(_f.Provider)).Succeeded);
        var schema = new Schema([.. wide.Select(i => ItemDataType.Utf8.ToField(i.Name))], null);
        var stream = await StreamAsync([new RecordBatch(schema, [.. wide.Select(_ => new StringArray.Builder().Append("ab").Build())], 1)]);
        using var client = _f.Node.Client(_f.Provider.Certificate);

        var response = await client.PostAsync(DataPath("101002/000002"), ArrowContent(stream));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidValue);
        Assert.Equal(20, problem.GetProperty("errors").GetArrayLength());
        Assert.Equal(10, problem.GetProperty("more").GetInt32());
    }

    [Fact]
    public async Task Push_UnalignedBuffer_400ArrowUnalignedBuffer()
    {
        var stream = await StreamOf([Good(0), Good(1), Good(2)]);
        var frame = ArrowSamples.Frames(stream)[1];
        // Move a non-empty buffer that has room after it one byte on: inside the body, not overlapping, unaligned.
        var (index, (offset, _, position)) = frame.Metadata.Buffers.Select((b, i) => (i, b)).First(b => b.b.Length > 0 && b.b.Length % 8 != 0);
        BinaryPrimitives.WriteInt64LittleEndian(stream.AsSpan(frame.MetadataStart + position), offset + 1);

        var problem = await ProblemAssert.IsProblemAsync(await PushAsync(stream), HttpStatusCode.BadRequest, ProblemTypes.InvalidArrowStream);

        Assert.Equal("arrow-unaligned-buffer", problem.GetProperty("code").GetString());
        Assert.Contains($"buffer {index}", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertNoVersion();
    }

    [Fact]
    public async Task Push_OverlappingBuffers_400ArrowOverlappingBuffers()
    {
        var stream = await StreamOf([Good(0), Good(1), Good(2)]);
        var frame = ArrowSamples.Frames(stream)[1];
        var nonEmpty = frame.Metadata.Buffers.Where(b => b.Length > 0).ToList();
        // The last non-empty buffer now starts where the one before it starts: both read the same bytes.
        BinaryPrimitives.WriteInt64LittleEndian(stream.AsSpan(frame.MetadataStart + nonEmpty[^1].MetadataPosition), nonEmpty[^2].Offset);

        var problem = await ProblemAssert.IsProblemAsync(await PushAsync(stream), HttpStatusCode.BadRequest, ProblemTypes.InvalidArrowStream);

        Assert.Equal("arrow-overlapping-buffers", problem.GetProperty("code").GetString());
        AssertNoVersion();
    }

    [Fact]
    public async Task Pull_MaskingRuleNotForTheItemsType_409NamingItNotA500AndLogged()
    {
        // Written past the checks, as a grant from before them (or an item whose type changed since) would be.
        _f.GrantTo(_f.User, Conditional, "casework", new GrantedItem("name", MaskingRule.Bucket(18, 60)));
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Conditional, 5)).StatusCode);
        using var client = _f.Node.Client(_f.User.Certificate);

        using var response = await client.SendAsync(Pull(Conditional, "casework"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, ProblemTypes.MaskingRuleMismatch);
        Assert.Contains("Bucket", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("姓名", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var id = response.Headers.GetValues(GovShareHeaders.ExchangeId).Single();
        var record = Assert.Single(ExchangeRecords(), r => r.ExchangeId == id);
        Assert.Equal((409, ProblemTypes.MaskingRuleMismatch), (record.Status, record.ProblemType));
    }

    [Theory]
    [InlineData(MediaTypes.ArrowStream)]
    [InlineData("application/json")]
    public async Task Pull_StoredFileDamagedMidStream_CutAndLoggedWithRowsBytesAndWhy(string accept)
    {
        const int total = 60_000;
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, total)).StatusCode);
        var store = _f.Node.Services.GetRequiredService<DatasetStore>();
        var path = Path.Combine(store.Folder, store.Latest(Unconditional)!.Segments[0].File);
        // A disk that lost the file's tail: the first batches read, a later one is cut.
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(file.Length * 3 / 4);
        }

        using var client = _f.Node.Client(_f.Provider.Certificate);
        using var response = await client.SendAsync(Pull(Unconditional, "audit", accept: accept), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = response.Headers.GetValues(GovShareHeaders.ExchangeId).Single();
        long received = 0;
        var cut = await Record.ExceptionAsync(async () =>
        {
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                received += n;
            }
        });

        Assert.NotNull(cut); // the stream ends without its end: the client knows it is incomplete
        var record = Assert.Single(ExchangeRecords(), r => r.ExchangeId == id);
        Assert.Equal((500, ProblemTypes.DatasetUnreadable), (record.Status, record.ProblemType));
        Assert.InRange(record.Rows, 1, total - 1);
        Assert.InRange(record.Bytes, 1, long.MaxValue);
        Assert.True(received > 0, "some rows were delivered before the cut");
        Assert.Contains(_f.Node.Logs, l => l.Contains("PullFailed", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pull_StoredFileAlteredIntoOtherValidArrow_500BeforeAnyByte_OrCutBeforeItsEnd_LoggedAsChecksumMismatch()
    {
        // An attacker with the disk changes one ID number digit in a stored file: still valid Arrow,
        // same length, so only the SHA-256s recorded at push can tell. The pull must not end whole.
        // 60,000 rows make a file of several 2 MiB blocks, each hashed before its batches are used.
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Unconditional, 60_000)).StatusCode);
        var store = _f.Node.Services.GetRequiredService<DatasetStore>();
        var path = Path.Combine(store.Folder, store.Latest(Unconditional)!.Segments[0].File);
        var original = await File.ReadAllBytesAsync(path);
        Assert.True(original.Length > 4 << 20, $"the stored file is {original.Length} bytes: too small for several blocks");
        using var client = _f.Node.Client(_f.Provider.Certificate);

        // In the first block: found before a byte is sent, so the answer is a plain 500 problem.
        await File.WriteAllBytesAsync(path, Altered(original, DigitAfter(original, 8 + BitConverter.ToInt32(original, 4))));
        var recordsBefore = ExchangeRecords().Count;
        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, "audit")), HttpStatusCode.InternalServerError, ProblemTypes.DatasetUnreadable);
        Assert.Contains("could not be read back", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertLoggedAsAltered(recordsBefore, delivered: false);

        // In the last block: the earlier blocks went out, then the stream is cut without its end.
        await File.WriteAllBytesAsync(path, Altered(original, DigitAfter(original, original.Length - (1 << 20))));
        recordsBefore = ExchangeRecords().Count;
        long rowsRead = 0;
        var cut = await Record.ExceptionAsync(async () =>
        {
            using var response = await client.SendAsync(Pull(Unconditional, "audit"), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(body);
            while (await reader.ReadNextRecordBatchAsync() is { } batch)
            {
                rowsRead += batch.Length;
                batch.Dispose();
            }
        });

        Assert.NotNull(cut); // no end-of-stream: the client cannot take the altered rows for a whole delivery
        Assert.IsNotType<Xunit.Sdk.XunitException>(cut);
        Assert.True(rowsRead < 60_000, $"{rowsRead} rows read");
        AssertLoggedAsAltered(recordsBefore, delivered: true);

        void AssertLoggedAsAltered(int before, bool delivered)
        {
            var record = Assert.Single(ExchangeRecords().Skip(before), r => r.Kind == ExchangeKind.Pull);
            Assert.Equal(500, record.Status);
            Assert.Equal(ProblemTypes.DatasetUnreadable, record.ProblemType);
            Assert.Equal(delivered, record.Rows > 0);
            Assert.Contains(_f.Node.Logs, l => l.Contains("PullFailed", StringComparison.Ordinal) && l.Contains(record.ExchangeId, StringComparison.Ordinal) && l.Contains("arrow-checksum-mismatch", StringComparison.Ordinal));
        }
    }

    private static byte[] Altered(byte[] file, int at)
    {
        var copy = (byte[])file.Clone();
        copy[at] = (byte)(copy[at] == (byte)'1' ? '2' : '1');
        return copy;
    }

    /// <summary>A digit inside a run of ≥ 12 digits (an ID number's value) after <paramref name="from"/>.</summary>
    private static int DigitAfter(byte[] file, int from)
    {
        for (int i = from, run = 0; i < file.Length; i++)
        {
            run = file[i] is >= (byte)'0' and <= (byte)'9' ? run + 1 : 0;
            if (run == 12)
            {
                return i - 6;
            }
        }

        throw new InvalidOperationException("No ID number digits found in the stored file.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Pull_ClientGoesAwayMidStream_Logged499WithRowsAndBytesDelivered_AndTheNextPullIsWhole(bool inlineScheduling)
    {
        // With Kestrel's inline scheduling the answer's sends run on the thread that encodes it; a failed send
        // must still reach the pull as the client's going away.
        await using var inline = inlineScheduling ? await ExchangeFixture.StartAsync(s => s["Node:InlineScheduling"] = "true") : null;
        var f = inline ?? _f;
        const int total = 200_000;
        Assert.Equal(HttpStatusCode.OK, (await f.PushAsync(Unconditional, total)).StatusCode);
        string id;
        long read;
        using (var client = f.Node.Client(f.Provider.Certificate))
        {
            using var response = await client.SendAsync(Pull(Unconditional, "audit"), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            id = response.Headers.GetValues(GovShareHeaders.ExchangeId).Single();
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            read = await body.ReadAsync(buffer);
            Assert.True(read > 0);
        }

        // The connection is gone; the node notices on its next write and logs what got out.
        LogRecord? record = null;
        for (var i = 0; i < 600 && record is null; i++)
        {
            record = ExchangeRecords(f).SingleOrDefault(r => r.ExchangeId == id);
            if (record is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(record);
        Assert.Equal(499, record.Status);
        Assert.InRange(record.Rows, 0, total - 1);
        Assert.InRange(record.Bytes, read, long.MaxValue);

        // The node is none the worse: the same pull, read to its end, is whole and logged so.
        using var again = f.Node.Client(f.Provider.Certificate);
        using var whole = await again.SendAsync(Pull(Unconditional, "audit"));
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        var wholeId = whole.Headers.GetValues(GovShareHeaders.ExchangeId).Single();
        var (_, batches) = await ReadAsync(whole);
        Assert.Equal(total, batches.Sum(b => b.Length));
        Assert.Equal((200, (long)total), ExchangeRecords(f).Where(r => r.ExchangeId == wholeId).Select(r => (r.Status, r.Rows)).Single());
    }

    [Theory]
    [InlineData(MediaTypes.ArrowStream, 300_000)]
    [InlineData(TextRepresentation.Csv, 100_000)]
    public async Task Pull_LargeAnswer_TheSameBytesWithOrWithoutInlineScheduling_EveryRowInOrder(string accept, int total)
    {
        // ~1.6 MB of CSV, ~7 MB of Arrow: many times Kestrel's output buffer, so the encoding waits on the send
        // again and again (on the same thread with Kestrel's inline scheduling).
        await using var inline = await ExchangeFixture.StartAsync(s => s["Node:InlineScheduling"] = "true");
        var withoutOption = await PullWholeAsync(_f);
        var withOption = await PullWholeAsync(inline);

        Assert.True(withOption.Length > 1024 * 1024, $"only {withOption.Length} bytes");
        Assert.Equal(withoutOption.Length, withOption.Length);
        Assert.True(withoutOption.AsSpan().SequenceEqual(withOption), "the answers differ with and without inline scheduling");

        // Every row, in order, with its values: no part of the answer lost, repeated or moved.
        var row = 0;
        if (accept == MediaTypes.ArrowStream)
        {
            using var copy = new HttpResponseMessage { Content = new ByteArrayContent(withOption) };
            foreach (var batch in (await ReadAsync(copy)).Batches)
            {
                using (batch)
                {
                    var names = (StringArray)batch.Column(0);
                    var incomes = (DoubleArray)batch.Column(1);
                    for (var i = 0; i < batch.Length; i++, row++)
                    {
                        Assert.Equal((Name(row), 30000.0 + row), (names.GetString(i), incomes.GetValue(i)!.Value));
                    }
                }
            }
        }
        else
        {
            var lines = System.Text.Encoding.UTF8.GetString(withOption).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            foreach (var line in lines.Skip(1))
            {
                var fields = line.TrimEnd('\r').Split(',');
                Assert.Equal((Name(row), 30000.0 + row), (fields[0], double.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture)));
                row++;
            }
        }

        Assert.Equal(total, row);

        async Task<byte[]> PullWholeAsync(ExchangeFixture f)
        {
            Assert.Equal(HttpStatusCode.OK, (await f.PushAsync(Unconditional, total)).StatusCode);
            using var client = f.Node.Client(f.Provider.Certificate);
            using var response = await client.SendAsync(Pull(Unconditional, "audit", "name,income", accept));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var id = response.Headers.GetValues(GovShareHeaders.ExchangeId).Single();
            var bytes = await response.Content.ReadAsByteArrayAsync();
            var record = Assert.Single(ExchangeRecords(f), r => r.ExchangeId == id);
            Assert.Equal((200, (long)total), (record.Status, record.Rows));
            return bytes;
        }
    }

    private List<LogRecord> ExchangeRecords() => ExchangeRecords(_f);

    private static List<LogRecord> ExchangeRecords(ExchangeFixture f) =>
        LogStore.ForDataFolder(f.Node.DataPath).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().ToList();

    public static List<Company> Rows(IEnumerable<RecordBatch> batches)
    {
        var rows = new List<Company>();
        foreach (var b in batches)
        {
            for (var i = 0; i < b.Length; i++)
            {
                var capital = (Decimal128Array)b.Column(4);
                rows.Add(new Company(
                    ((StringArray)b.Column(0)).GetString(i),
                    ((StringArray)b.Column(1)).GetString(i),
                    ((Date32Array)b.Column(2)).GetValue(i),
                    ((TimestampArray)b.Column(3)).GetValue(i),
                    capital.IsNull(i) ? null : BinaryPrimitives.ReadInt128LittleEndian(capital.GetBytes(i)),
                    b.Column(5).IsNull(i) ? null : ((BinaryArray)b.Column(5)).GetBytes(i).ToArray()));
            }
        }

        return rows;
    }

    /// <summary>
    /// Rewrites a valid one-batch stream so that the variable-length column's offsets start at k,
    /// not 0, with k junk bytes before its data — the same values, spelt another legal way. Uses the
    /// padding after the data buffer, so nothing else in the body moves.
    /// </summary>
    private static void ShiftFirstOffset(byte[] stream, int column)
    {
        var frame = ArrowSamples.Frames(stream)[1];
        var (offsetsAt, dataIndex) = VariableBuffers(frame, column);
        var (dataOffset, dataLength, dataPosition) = frame.Metadata.Buffers[dataIndex];
        var rows = (int)frame.Metadata.Rows;
        var used = BinaryPrimitives.ReadInt32LittleEndian(stream.AsSpan(offsetsAt + (rows * 4)));
        var next = frame.Metadata.Buffers.Where(b => b.Offset > dataOffset && b.Length > 0).Select(b => b.Offset).DefaultIfEmpty(frame.BodyLength).Min();
        var k = (int)Math.Min(3, next - dataOffset - used);
        Assert.True(k >= 1, "the data buffer needs padding after its values for this test");
        var data = frame.BodyStart + (int)dataOffset;
        stream.AsSpan(data, used).CopyTo(stream.AsSpan(data + k));
        stream.AsSpan(data, k).Fill((byte)'#');
        BinaryPrimitives.WriteInt64LittleEndian(stream.AsSpan(frame.MetadataStart + dataPosition + 8), Math.Max(dataLength, used + k));
        for (var i = 0; i <= rows; i++)
        {
            var at = stream.AsSpan(offsetsAt + (i * 4));
            BinaryPrimitives.WriteInt32LittleEndian(at, BinaryPrimitives.ReadInt32LittleEndian(at) + k);
        }
    }

    /// <summary>Where a company column's offsets buffer starts in the stream, and the index of its data buffer.</summary>
    private static (int OffsetsAt, int DataIndex) VariableBuffers(ArrowSamples.Frame frame, int column)
    {
        // Buffers per column: utf8 and binary 3, the fixed-width types 2.
        int[] counts = [3, 3, 2, 2, 2, 3];
        var first = counts.Take(column).Sum();
        return (frame.BodyStart + (int)frame.Metadata.Buffers[first + 1].Offset, first + 2);
    }
}
