using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Exchange;
using GovShare.Node.Exchange.ArrowInput;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace GovShare.Node.Tests.Exchange;

/// <summary>The dataset store on a real data folder: real files, real LiteDB.</summary>
public sealed class DatasetStoreTests : IDisposable
{
    private const string Resource = "1010100000001";
    private readonly string _path = Directory.CreateTempSubdirectory("govshare-datasets-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero));
    private NodeDataFolder _folder;
    private DatasetStore _store;

    public DatasetStoreTests()
    {
        _folder = NodeDataFolder.Open(_path);
        _store = new DatasetStore(_folder, new DatasetStoreOptions { KeepVersions = 3 }, _time);
    }

    public void Dispose()
    {
        _store.Dispose();
        _folder.Dispose();
        Directory.Delete(_path, recursive: true);
    }

    private void Restart(DatasetStoreOptions? options = null)
    {
        _store.Dispose();
        _folder.Dispose();
        _folder = NodeDataFolder.Open(_path);
        _store = new DatasetStore(_folder, options ?? new DatasetStoreOptions { KeepVersions = 3 }, _time);
    }

    /// <summary>The id numbers of each batch handed out, until the read ends or is refused.</summary>
    private async Task<(List<List<string?>> Batches, ArrowInputException? Refusal)> ReadUntilRefusedAsync(DatasetVersion version)
    {
        var batches = new List<List<string?>>();
        await using var reader = _store.OpenRead(version);
        var refusal = await Record.ExceptionAsync(async () =>
        {
            await foreach (var batch in reader.ReadBatchesAsync())
            {
                using (batch)
                {
                    var column = (StringArray)batch.Column(0);
                    batches.Add([.. Enumerable.Range(0, column.Length).Select(i => column.GetString(i))]);
                }
            }
        });
        return (batches, refusal is null ? null : Assert.IsType<ArrowInputException>(refusal));
    }

    /// <summary>Overwrites bytes of a stored segment in place, as an attacker with the disk would.</summary>
    private async Task AlterAsync(DatasetSegment segment, Func<byte[], int> at, params byte[] with)
    {
        var path = Path.Combine(_store.Folder, segment.File);
        var bytes = await File.ReadAllBytesAsync(path);
        with.CopyTo(bytes, at(bytes));
        await File.WriteAllBytesAsync(path, bytes);
    }

    private static int IndexOf(byte[] file, string text) =>
        file.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(text)) is var i and >= 0 ? i : throw new InvalidOperationException($"{text} is not in the file.");

    private async Task<DatasetVersion> PushAsync(PushMode mode, params RecordBatch[] batches)
    {
        var schema = batches.Length > 0 ? batches[0].Schema : ArrowSamples.PeopleSchema;
        await using var push = await _store.BeginPushAsync(Resource, mode, schema, ExchangeId.New(_time));
        foreach (var batch in batches)
        {
            await push.WriteAsync(batch);
        }

        return await push.CommitAsync(new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero));
    }

    private async Task<List<string?>> IdNumbersAsync(DatasetVersion version)
    {
        var ids = new List<string?>();
        await using var reader = _store.OpenRead(version);
        await foreach (var batch in reader.ReadBatchesAsync())
        {
            using (batch)
            {
                var column = (StringArray)batch.Column(0);
                ids.AddRange(Enumerable.Range(0, column.Length).Select(i => column.GetString(i)));
            }
        }

        return ids;
    }

    private string[] SegmentFiles() => [.. Directory.GetFiles(_store.Folder).Select(Path.GetFileName).Order()!];

    [Fact]
    public async Task Commit_Replace_PublishesVersionWithMetadata()
    {
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(5, 1));

        Assert.Equal(1, version.Version);
        Assert.Equal(15, version.Rows);
        Assert.Equal(PushMode.Replace, version.Mode);
        Assert.Equal(_time.GetUtcNow(), version.PushedAt);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), version.DataUpdatedAt);
        Assert.Equal(SchemaFingerprint.Of(ArrowSamples.PeopleSchema), version.SchemaFingerprint);
        var segment = Assert.Single(version.Segments);
        Assert.Equal(new FileInfo(Path.Combine(_store.Folder, segment.File)).Length, version.Bytes);
        Assert.Equal([segment.File], SegmentFiles());
        Assert.Equal(version, _store.Latest(Resource));
    }

    [Fact]
    public async Task OpenRead_PublishedVersion_SameValuesAsPushed()
    {
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(5, 1));

        var ids = await IdNumbersAsync(version);

        var expected = Enumerable.Range(0, 10).Select(i => i % 7 == 3 ? null : ArrowSamples.IdNumber(0, i))
            .Concat(Enumerable.Range(0, 5).Select(i => i % 7 == 3 ? null : ArrowSamples.IdNumber(1, i)));
        Assert.Equal(expected, ids);
        await using var reader = _store.OpenRead(version);
        Assert.Equal(SchemaFingerprint.Of(ArrowSamples.PeopleSchema), SchemaFingerprint.Of(await reader.ReadSchemaAsync()));
    }

    [Fact]
    public async Task Commit_Append_PreviousRowsThenNewRows()
    {
        var first = await PushAsync(PushMode.Replace, ArrowSamples.People(4, 0));
        _time.Advance(TimeSpan.FromMinutes(1));

        var second = await PushAsync(PushMode.Append, ArrowSamples.People(3, 9));

        Assert.Equal(2, second.Version);
        Assert.Equal(7, second.Rows);
        Assert.Equal(first.Segments[0], second.Segments[0]);
        Assert.Equal(2, second.Segments.Count);
        var ids = await IdNumbersAsync(second);
        Assert.Equal(ArrowSamples.IdNumber(0, 0), ids[0]);
        Assert.Equal(ArrowSamples.IdNumber(9, 2), ids[6]);
        Assert.Equal(4, (await IdNumbersAsync(first)).Count);
    }

    [Fact]
    public async Task BeginPush_AppendWithOtherSchema_Refused()
    {
        await PushAsync(PushMode.Replace, ArrowSamples.People(4, 0));
        var other = new Schema.Builder().Field(f => f.Name("id_number").DataType(StringType.Default)).Build();

        await Assert.ThrowsAsync<DatasetSchemaMismatchException>(() => _store.BeginPushAsync(Resource, PushMode.Append, other, ExchangeId.New(_time)));

        Assert.Single(SegmentFiles());
    }

    [Fact]
    public async Task Dispose_UncommittedPush_NothingVisibleNoFiles()
    {
        var previous = await PushAsync(PushMode.Replace, ArrowSamples.People(4, 0));
        await using (var push = await _store.BeginPushAsync(Resource, PushMode.Replace, ArrowSamples.PeopleSchema, ExchangeId.New(_time)))
        {
            await push.WriteAsync(ArrowSamples.People(10, 1));
            Assert.Contains(SegmentFiles(), f => f.EndsWith(".arrows.tmp", StringComparison.Ordinal));
        }

        Assert.Equal(previous, _store.Latest(Resource));
        Assert.Equal([previous.Segments[0].File], SegmentFiles());
    }

    [Fact]
    public async Task RemoveStrayFiles_NodeStoppedMidPush_PreviousVersionIntactTempRemoved()
    {
        var previous = await PushAsync(PushMode.Replace, ArrowSamples.People(4, 0));
        var push = await _store.BeginPushAsync(Resource, PushMode.Replace, ArrowSamples.PeopleSchema, ExchangeId.New(_time));
        await push.WriteAsync(ArrowSamples.People(10, 1));

        // The process dies: the push is never committed nor disposed.
        File.WriteAllBytes(Path.Combine(_store.Folder, "01JDXXXXXXXXXXXXXXXXXXXXXX.arrows"), [1, 2, 3]);
        Restart();
        var removed = _store.RemoveStrayFiles();

        Assert.Equal(2, removed);
        Assert.Equal(previous, _store.Latest(Resource));
        Assert.Equal([previous.Segments[0].File], SegmentFiles());
        Assert.Equal(4, (await IdNumbersAsync(previous)).Count);
        GC.KeepAlive(push);
    }

    [Fact]
    public async Task Commit_MoreThanKeepVersions_OldestPrunedSharedSegmentsKept()
    {
        var v1 = await PushAsync(PushMode.Replace, ArrowSamples.People(2, 1));
        var v2 = await PushAsync(PushMode.Replace, ArrowSamples.People(2, 2));
        var v3 = await PushAsync(PushMode.Append, ArrowSamples.People(2, 3));
        var v4 = await PushAsync(PushMode.Append, ArrowSamples.People(2, 4));
        var v5 = await PushAsync(PushMode.Replace, ArrowSamples.People(2, 5));

        Assert.Equal([3, 4, 5], _store.Versions(Resource).Select(v => v.Version));
        Assert.Null(_store.Find(Resource, 1));
        Assert.Null(_store.Find(Resource, 2));

        // v2's segment is still part of v3 and v4; v1's is gone.
        var expected = v3.Segments.Concat(v4.Segments).Concat(v5.Segments).Select(s => s.File).Distinct().Order().ToArray();
        Assert.Equal(expected, SegmentFiles());
        Assert.Contains(v2.Segments[0].File, SegmentFiles());
        Assert.DoesNotContain(v1.Segments[0].File, SegmentFiles());
        Assert.Equal(6, (await IdNumbersAsync(v4)).Count);
    }

    [Fact]
    public async Task OpenRead_VersionPrunedWhileReading_ReaderFinishes()
    {
        var v1 = await PushAsync(PushMode.Replace, ArrowSamples.People(20, 1));
        await using var reader = _store.OpenRead(v1);
        for (var i = 0; i < 3; i++)
        {
            await PushAsync(PushMode.Replace, ArrowSamples.People(2, i));
        }

        Assert.Null(_store.Find(Resource, 1));
        var rows = 0;
        await foreach (var batch in reader.ReadBatchesAsync())
        {
            rows += batch.Length;
            batch.Dispose();
        }

        Assert.Equal(20, rows);
    }

    [Fact]
    public async Task Versions_AfterRestart_StillPublished()
    {
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(3, 0));

        Restart();

        Assert.Equal(0, _store.RemoveStrayFiles());
        Assert.Equal(version, _store.Latest(Resource));
        Assert.Equal(3, (await IdNumbersAsync(version)).Count);
    }

    [Fact]
    public async Task OpenRead_DamagedSegment_ArrowInputException()
    {
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0));
        var path = Path.Combine(_store.Folder, version.Segments[0].File);
        var bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length / 2)]);

        await Assert.ThrowsAsync<ArrowInputException>(() => IdNumbersAsync(version));
    }

    [Fact]
    public async Task Commit_EmptyPush_VersionWithNoRows()
    {
        var version = await PushAsync(PushMode.Replace);

        Assert.Equal(0, version.Rows);
        Assert.Empty(await IdNumbersAsync(version));
    }

    [Fact]
    public async Task Commit_FromSafeReader_PushOfUntrustedStream()
    {
        var input = ArrowSamples.PeopleStream(batches: 2, rows: 8);
        await using var reader = await SafeArrowReader.OpenAsync(new MemoryStream(input), declaredLength: input.Length);
        await using var push = await _store.BeginPushAsync(Resource, PushMode.Replace, reader.Schema, ExchangeId.New(_time));
        await foreach (var batch in reader.ReadAllAsync())
        {
            using (batch)
            {
                await push.WriteAsync(batch);
            }
        }

        var version = await push.CommitAsync();

        Assert.Equal(16, version.Rows);
        Assert.Equal(_time.GetUtcNow(), version.DataUpdatedAt);
    }

    [Fact]
    public async Task Push_MalformedStreamMidway_NothingPublishedNoFiles()
    {
        var previous = await PushAsync(PushMode.Replace, ArrowSamples.People(4, 0));
        var input = ArrowSamples.PeopleStream(batches: 3, rows: 8);
        var frames = ArrowSamples.Frames(input);
        var third = frames[3];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(input.AsSpan(third.BodyStart + (int)third.Metadata.Buffers[1].Offset + 8), 1 << 30);

        await Assert.ThrowsAsync<ArrowInputException>(async () =>
        {
            await using var reader = await SafeArrowReader.OpenAsync(new MemoryStream(input), declaredLength: input.Length);
            await using var push = await _store.BeginPushAsync(Resource, PushMode.Replace, reader.Schema, ExchangeId.New(_time));
            await foreach (var batch in reader.ReadAllAsync())
            {
                using (batch)
                {
                    await push.WriteAsync(batch);
                }
            }

            await push.CommitAsync();
        });

        Assert.Equal(previous, _store.Latest(Resource));
        Assert.Equal([previous.Segments[0].File], SegmentFiles());
    }

    [Fact]
    public async Task AddGovShareExchange_HostStarts_StrayFilesRemoved()
    {
        File.WriteAllBytes(Path.Combine(_store.Folder, "01JDXXXXXXXXXXXXXXXXXXXXXX.arrows.tmp"), [1]);
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection()
            .AddLogging()
            .AddSingleton(_folder)
            .AddGovShareExchange(new DatasetStoreOptions { KeepVersions = 2 });
        using var provider = services.BuildServiceProvider();

        foreach (var hosted in provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        Assert.Equal(2, provider.GetRequiredService<DatasetStore>().Options.KeepVersions);
        Assert.Empty(SegmentFiles());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(40)]
    public async Task Write_Utf8AndBinaryOffsetsNotStartingAtZero_StoredCanonicallyReadBackExactly(int firstOffset)
    {
        // Arrays as a sender may build them: offsets starting at firstOffset over a data buffer with
        // that many bytes before the first value (and some after the last).
        string?[] names = ["张三", null, "", "欧阳娜娜", "Zhao Liu"];
        var schema = new Schema.Builder()
            .Field(f => f.Name("name").DataType(StringType.Default).Nullable(true))
            .Field(f => f.Name("photo").DataType(BinaryType.Default).Nullable(true))
            .Build();
        var text = Shifted(StringType.Default, names.Select(n => n is null ? null : System.Text.Encoding.UTF8.GetBytes(n)).ToArray(), firstOffset);
        var bytes = Shifted(BinaryType.Default, names.Select(n => n is null ? null : System.Text.Encoding.UTF8.GetBytes(n + "!")).ToArray(), firstOffset);
        using var batch = new RecordBatch(schema, [ArrowArrayFactory.BuildArray(text), ArrowArrayFactory.BuildArray(bytes)], names.Length);

        var version = await PushAsync(PushMode.Replace, batch);

        var file = await File.ReadAllBytesAsync(Path.Combine(_store.Folder, version.Segments[0].File));
        var frame = ArrowSamples.Frames(file)[1];
        foreach (var offsetsBuffer in new[] { 1, 4 })
        {
            // Stored canonically: each offsets buffer starts at 0.
            var (offset, _, _) = frame.Metadata.Buffers[offsetsBuffer];
            Assert.Equal(0, System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(frame.BodyStart + (int)offset)));
        }

        await using var reader = _store.OpenRead(version);
        var read = new List<(string?, string?)>();
        await foreach (var stored in reader.ReadBatchesAsync())
        {
            using (stored)
            {
                var s = (StringArray)stored.Column(0);
                var b = (BinaryArray)stored.Column(1);
                read.AddRange(Enumerable.Range(0, stored.Length).Select(i => ((string?)s.GetString(i), b.IsNull(i) ? null : System.Text.Encoding.UTF8.GetString(b.GetBytes(i)))));
            }
        }

        Assert.Equal(names.Select(n => (n, n is null ? null : n + "!")), read);
    }

    [Fact]
    public async Task Commit_RecordsBlocksHashingEveryByteOfEachSegmentFile_NoSecondWholeFileHash_KeptAcrossRestart()
    {
        var first = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0));
        var second = await PushAsync(PushMode.Append, ArrowSamples.People(5, 1));

        foreach (var segment in second.Segments)
        {
            // Every byte hashed once, into its block; the file's own SHA-256 would hash them again.
            var file = await File.ReadAllBytesAsync(Path.Combine(_store.Folder, segment.File));
            AssertBlocksHash(file, segment);
            Assert.Null(segment.Sha256);
        }

        Assert.Equal(first.Segments[0], second.Segments[0]);
        Restart();
        Assert.Equal(second.Segments, _store.Latest(Resource)!.Segments);
    }

    [Fact]
    public async Task Commit_FileOfManyChunks_BlocksEndAtBatchEnds_EachHashingItsBytes()
    {
        // Several MiB through SegmentFileWriter's 1 MiB chunks, with blocks ending inside chunks and
        // batches larger than a chunk: the background hashing must cut each block where its batch ended.
        Restart(new DatasetStoreOptions { KeepVersions = 3, BlockBytes = 300_000 });
        var batches = Enumerable.Range(0, 12).Select(i => ArrowSamples.People(i % 3 == 0 ? 40_000 : 3_000, i)).ToArray();
        var version = await PushAsync(PushMode.Replace, batches);

        var file = await File.ReadAllBytesAsync(Path.Combine(_store.Folder, version.Segments[0].File));
        Assert.True(file.Length > 4 * SegmentFileWriter.ChunkBytes, $"{file.Length} bytes");
        var blocks = AssertBlocksHash(file, version.Segments[0]);
        var batchEnds = ArrowSamples.Frames(file).Skip(1).Select(f => (long)f.End).ToHashSet();
        Assert.All(blocks.SkipLast(1), b => Assert.Contains(b.End, batchEnds));
        Assert.True(blocks.Length > 5, $"{blocks.Length} blocks");
        Assert.Equal(batches.Sum(b => b.Length), (await IdNumbersAsync(version)).Count);
    }

    [Fact]
    public async Task SegmentFileWriter_WriteFails_ThatWriteThrows_EveryLaterOneToo_NothingHangs()
    {
        // A handle that cannot be written stands in for a full disk: the push must learn it from
        // the write (it is made on the caller's thread) and can write nothing after it, nor finish.
        var path = Path.Combine(_path, "unwritable.arrows.tmp");
        await File.WriteAllBytesAsync(path, []);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read);
        using var writer = new SegmentFileWriter(file, 1 << 20);
        var chunk = new byte[SegmentFileWriter.ChunkBytes];

        var failure = await Record.ExceptionAsync(async () => await writer.WriteAsync(chunk));
        var later = await Record.ExceptionAsync(async () => await writer.WriteAsync(new byte[10]));
        var finish = await Record.ExceptionAsync(() => writer.FinishAsync(CancellationToken.None));

        Assert.True(failure is IOException or UnauthorizedAccessException, failure?.ToString() ?? "no failure");
        Assert.Equal(failure?.GetType(), later?.GetType());
        Assert.Equal(failure?.GetType(), finish?.GetType());
    }

    [Fact]
    public async Task SegmentFileWriter_LargeSequentialWrites_LargePiecesFromTheCallersMemory_EveryByteInItsBlock()
    {
        // What a push writes: small pieces (headers, padding) and large ones (column buffers), block
        // ends between them. Every write to the file but the last carries at least a chunk, at the
        // offset where the one before ended; a large piece goes out from the caller's own array
        // (no copy into the chunk); every write is done when WriteAsync returns.
        var path = Path.Combine(_path, "sequential.arrows.tmp");
        var writes = new List<(long Offset, long Length, List<byte[]?> Arrays)>();
        await using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 });
        await using var writer = new SegmentFileWriter(file, 300_000, (handle, pieces, offset) =>
        {
            writes.Add((offset, pieces.Sum(p => (long)p.Length), [.. pieces.Select(p => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(p, out var a) ? a.Array : null)]));
            RandomAccess.Write(handle, pieces, offset);
        });

        var expected = new MemoryStream();
        var random = new Random(20);
        var large = new List<byte[]>();
        for (var i = 0; i < 40; i++)
        {
            // Larger than a chunk (never fits: always written as itself), medium (copied or not, by
            // what the chunk holds), or header-sized (always copied).
            var piece = new byte[i % 4 == 3 ? random.Next(SegmentFileWriter.ChunkBytes + 1, 3 * SegmentFileWriter.ChunkBytes)
                : i % 7 == 5 ? random.Next(10_000, 600_000)
                : random.Next(1, 9_000)];
            random.NextBytes(piece);
            if (piece.Length > SegmentFileWriter.ChunkBytes)
            {
                large.Add(piece);
            }

            var written = writer.WriteAsync(piece);
            Assert.True(written.IsCompletedSuccessfully);
            await written;
            expected.Write(piece);
            if (i % 3 == 2)
            {
                writer.BatchWritten();
            }
        }

        var blocks = await writer.FinishAsync(CancellationToken.None);
        file.Flush(flushToDisk: true);

        var bytes = await File.ReadAllBytesAsync(path);
        Assert.Equal(expected.Length, bytes.Length);
        Assert.True(expected.ToArray().AsSpan().SequenceEqual(bytes), "the file differs from what was written");
        long next = 0;
        foreach (var (offset, length, _) in writes)
        {
            Assert.Equal(next, offset);
            next += length;
        }

        Assert.All(writes.SkipLast(1), w => Assert.True(w.Length >= SegmentFileWriter.ChunkBytes, $"a write of {w.Length} bytes"));
        // Each piece larger than a chunk went out as itself, from the caller's array, not copied.
        Assert.Equal(large, writes.SelectMany(w => w.Arrays).Where(a => a is not null && large.Contains(a)));
        var segment = new DatasetSegment("sequential.arrows", 0, bytes.Length, Sha256: null, blocks);
        Assert.True(AssertBlocksHash(bytes, segment).Length > 5);
    }

    [Fact]
    public async Task ArrowWriter_AsPushesUseIt_WritesEveryPieceAsynchronously()
    {
        // A push writes its segment with WriteStartAsync, WriteRecordBatchAsync and WriteEndAsync.
        // With the Arrow library as shipped, every piece (length prefixes, headers, bodies,
        // padding) comes through WriteAsync, the only write of SegmentFileWriter that can send a
        // column buffer to the file from the batch's own memory. If an upgrade starts writing some
        // synchronously, this fails: those pieces are then copied into the chunk (correct, but a copy more).
        var batch = ArrowSamples.People(1_000, 0);
        await using var output = new WriteCounter();
        using (var writer = new Apache.Arrow.Ipc.ArrowStreamWriter(output, batch.Schema, leaveOpen: true))
        {
            await writer.WriteStartAsync();
            await writer.WriteRecordBatchAsync(batch);
            await writer.WriteRecordBatchAsync(ArrowSamples.People(10, 1));
            await writer.WriteEndAsync();
        }

        Assert.Equal(0, output.Synchronous);
        Assert.True(output.Asynchronous > 10, $"{output.Asynchronous} asynchronous writes");
    }

    /// <summary>Counts writes by kind; keeps nothing.</summary>
    private sealed class WriteCounter : Stream
    {
        public int Synchronous { get; private set; }

        public int Asynchronous { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Synchronous++;

        public override void Write(ReadOnlySpan<byte> buffer) => Synchronous++;

        public override void WriteByte(byte value) => Synchronous++;

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Asynchronous++;
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Asynchronous++;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The segment's blocks run from the file's start to its end, each hashing its bytes.</summary>
    private static SegmentBlocks.Block[] AssertBlocksHash(byte[] file, DatasetSegment segment)
    {
        var blocks = SegmentBlocks.Parse(segment.Blocks)!;
        Assert.Equal(file.Length, blocks[^1].End);
        long start = 0;
        foreach (var block in blocks)
        {
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(file.AsSpan((int)start, (int)(block.End - start))), block.Sha256.ToArray());
            start = block.End;
        }

        return blocks;
    }

    [Fact]
    public async Task Write_ValueBreakingItsRule_RefusedAndNothingPublished()
    {
        // The rules travel with the schema, so every writer of a version enforces them.
        var schema = new Schema.Builder()
            .Field(new Field("code", StringType.Default, false, [new(GovShare.Node.Catalog.CatalogEntry.ItemIdMetadataKey, "code"), new(GovShare.Node.Catalog.CatalogEntry.ItemLengthMetadataKey, "3")]))
            .Build();
        using var batch = new RecordBatch(schema, [new StringArray.Builder().Append("abc").Append("云南省").Append("abcd").AppendNull().Build()], 4);

        var refused = await Assert.ThrowsAsync<ArrowValueException>(() => PushAsync(PushMode.Replace, batch));

        Assert.Equal([("code", 0, 3, "required"), ("code", 0, 2, "length")], refused.Violations.Select(v => (v.Item, v.Batch, v.Row, v.Rule)));
        Assert.Null(_store.Latest(Resource));
        Assert.Empty(SegmentFiles());
    }

    [Fact]
    public async Task Commit_RecordsBlocksEndingAtBatchEnds_EachHashingItsBytes()
    {
        Restart(new DatasetStoreOptions { KeepVersions = 3, BlockBytes = 1 });
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(10, 1), ArrowSamples.People(10, 2));

        var file = await File.ReadAllBytesAsync(Path.Combine(_store.Folder, version.Segments[0].File));
        var blocks = SegmentBlocks.Parse(version.Segments[0].Blocks)!;
        var frames = ArrowSamples.Frames(file);
        // One block per batch (the first also holds the schema), and the end-of-stream marker's own.
        Assert.Equal(frames.Skip(1).Select(f => (long)f.End).Append(file.Length), blocks.Select(b => b.End));
        long start = 0;
        foreach (var block in blocks)
        {
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(file.AsSpan((int)start, (int)(block.End - start))), block.Sha256.ToArray());
            start = block.End;
        }

        Restart();
        Assert.Equal(version.Segments, _store.Latest(Resource)!.Segments);
    }

    [Fact]
    public async Task ReadBatches_BatchAlteredIntoOtherValidArrow_RefusedBeforeTheAlteredBatchIsHandedOut()
    {
        Restart(new DatasetStoreOptions { KeepVersions = 3, BlockBytes = 1 });
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(10, 1), ArrowSamples.People(10, 2));
        // One digit of an ID number of the second batch: same length, still valid Arrow and UTF-8.
        await AlterAsync(version.Segments[0], file => IndexOf(file, ArrowSamples.IdNumber(1, 4)) + 17, (byte)'X');

        var (batches, refusal) = await ReadUntilRefusedAsync(version);

        Assert.Equal([ArrowSamples.IdNumber(0, 0)], batches.Select(b => b[0]));
        Assert.Equal(ArrowInputError.ChecksumMismatch, refusal?.Error);
    }

    [Fact]
    public async Task ReadBatches_AlteredInTheBlockOfSeveralBatches_NoneOfTheBlockHandedOut()
    {
        // The default block (2 MiB) holds all three small batches: the first batch is unaltered but
        // is never handed out, because its block does not hash to what was written.
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(10, 1), ArrowSamples.People(10, 2));
        Assert.Single(SegmentBlocks.Parse(version.Segments[0].Blocks)!);
        await AlterAsync(version.Segments[0], file => IndexOf(file, ArrowSamples.IdNumber(2, 9)) + 17, (byte)'X');

        var (batches, refusal) = await ReadUntilRefusedAsync(version);

        Assert.Empty(batches);
        Assert.Equal(ArrowInputError.ChecksumMismatch, refusal?.Error);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReadBatches_OffsetAlteredPastTheData_RefusedBeforeAnyValueIsRead(bool withBlocks)
    {
        // An offset pointing far past the data buffer: Apache.Arrow would read out of bounds. With
        // blocks the block's hash refuses it before the batch is used; a segment stored without
        // blocks (written before they were recorded) is still refused by the structural validation.
        Restart(new DatasetStoreOptions { KeepVersions = 3, BlockBytes = 1 });
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(10, 1));
        var frame = ArrowSamples.Frames(await File.ReadAllBytesAsync(Path.Combine(_store.Folder, version.Segments[0].File)))[2];
        var (offsetsAt, _, _) = frame.Metadata.Buffers[1]; // the id column's offsets
        await AlterAsync(version.Segments[0], _ => frame.BodyStart + (int)offsetsAt + 8, 0xFF, 0xFF, 0xFF, 0x0F);
        if (!withBlocks)
        {
            version = version with { Segments = [version.Segments[0] with { Blocks = null, Sha256 = null }] };
        }

        var (batches, refusal) = await ReadUntilRefusedAsync(version);

        Assert.Single(batches);
        Assert.Equal(withBlocks ? ArrowInputError.ChecksumMismatch : ArrowInputError.InvalidOffsets, refusal?.Error);
    }

    [Fact]
    public async Task ReadBatches_SegmentStoredWithoutBlocks_ReadWhole_AndAlteredOneStillCaughtByItsSha256()
    {
        // A version written before blocks were recorded has only the file's SHA-256 (or nothing).
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(10, 1));
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(_store.Folder, version.Segments[0].File))));
        var old = version with { Segments = [version.Segments[0] with { Blocks = null, Sha256 = sha256 }] };
        var unrecorded = version with { Segments = [version.Segments[0] with { Blocks = null, Sha256 = null }] };

        Assert.Equal(await IdNumbersAsync(version), await IdNumbersAsync(old));
        Assert.Equal(await IdNumbersAsync(version), await IdNumbersAsync(unrecorded));
        Assert.Equal(20, (await IdNumbersAsync(old)).Count);

        await AlterAsync(version.Segments[0], file => IndexOf(file, ArrowSamples.IdNumber(1, 4)) + 17, (byte)'X');
        var (batches, refusal) = await ReadUntilRefusedAsync(old);
        Assert.Equal(2, batches.Count); // handed out, then the file's hash refuses it at its end
        Assert.Equal(ArrowInputError.ChecksumMismatch, refusal?.Error);
    }

    [Fact]
    public async Task ReadBatches_BlockListOfAnotherLength_Refused()
    {
        Restart(new DatasetStoreOptions { KeepVersions = 3, BlockBytes = 1 });
        var version = await PushAsync(PushMode.Replace, ArrowSamples.People(10, 0), ArrowSamples.People(10, 1));
        var entries = Convert.FromBase64String(version.Segments[0].Blocks!);
        var fewer = version with { Segments = [version.Segments[0] with { Blocks = Convert.ToBase64String(entries[..^40]) }] };
        var unreadable = version with { Segments = [version.Segments[0] with { Blocks = Convert.ToBase64String(entries[..^1]) }] };

        Assert.Equal(ArrowInputError.ChecksumMismatch, (await ReadUntilRefusedAsync(fewer)).Refusal?.Error);
        Assert.Equal(ArrowInputError.ChecksumMismatch, (await ReadUntilRefusedAsync(unreadable)).Refusal?.Error);
    }

    /// <summary>A variable-length array whose offsets start at <paramref name="first"/>, with junk before and after the values.</summary>
    private static ArrayData Shifted(IArrowType type, byte[]?[] values, int first)
    {
        var data = new List<byte>(Enumerable.Repeat((byte)0xEE, first));
        var offsets = new List<int> { first };
        var validity = new byte[(values.Length + 7) / 8];
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] is { } v)
            {
                data.AddRange(v);
                validity[i >> 3] |= (byte)(1 << (i & 7));
            }

            offsets.Add(data.Count);
        }

        data.AddRange([0xEE, 0xEE, 0xEE]);
        var offsetBytes = new byte[offsets.Count * 4];
        for (var i = 0; i < offsets.Count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(offsetBytes.AsSpan(i * 4), offsets[i]);
        }

        return new ArrayData(type, values.Length, values.Count(v => v is null), 0, [new ArrowBuffer(validity), new ArrowBuffer(offsetBytes), new ArrowBuffer(data.ToArray())]);
    }
}
