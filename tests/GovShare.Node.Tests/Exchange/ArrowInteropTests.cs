using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.ArrowInput;
using GovShare.Node.Exchange.Pull;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// An independent Arrow implementation (apache-arrow for JavaScript, run by Node) reads a
/// projected, masked stream written by the exchange. Needs <c>node</c> and <c>npm</c> on PATH
/// and the npm registry for the first run; the packages are installed with <c>npm ci</c> from
/// <c>interop/package-lock.json</c> into a folder under the system temp directory, reused
/// while the lock file is unchanged.
/// </summary>
public sealed class ArrowInteropTests
{
    private static readonly string InteropSource = Path.Combine(SourceFolder(), "interop");

    private static string SourceFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    [Fact]
    public async Task ApacheArrowJs_ReadsProjectedMaskedStream_RowsColumnsAndMaskedValues()
    {
        var key = PseudonymKey.Derive(new byte[32], "11530100015151711X");
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema,
        [
            new ProjectedItem("id_number", "SFZH", MaskingRule.KeepEnds(6, 4)),
            new ProjectedItem("name", "XM", MaskingRule.KeepEnds(1, 0)),
            new ProjectedItem("household", "HH", MaskingRule.Pseudonym),
            new ProjectedItem("age", "NL", MaskingRule.None),
            new ProjectedItem("birth", "CSNY", MaskingRule.GeneraliseDate(DatePrecision.Year)),
        ], key);
        var folder = Directory.CreateTempSubdirectory("govshare-interop-").FullName;
        try
        {
            var file = Path.Combine(folder, "pull.arrows");
            string? pseudonym;
            await using (var stream = File.Create(file))
            using (var writer = new ArrowStreamWriter(stream, projection.OutputSchema))
            {
                await writer.WriteStartAsync();
                using var first = ArrowSamples.People(20, seed: 0);
                using var second = ArrowSamples.People(5, seed: 1);
                using var firstOut = projection.Project(first);
                using var secondOut = projection.Project(second);
                pseudonym = ((StringArray)firstOut.Column(2)).GetString(0);
                await writer.WriteRecordBatchAsync(firstOut);
                await writer.WriteRecordBatchAsync(secondOut);
                await writer.WriteEndAsync();
            }

            using var result = JsonDocument.Parse(await RunNodeAsync(Path.Combine(await InstalledInteropAsync(), "read-stream.mjs"), file));
            var root = result.RootElement;

            Assert.Equal(25, root.GetProperty("rows").GetInt32());
            Assert.Equal(2, root.GetProperty("batches").GetInt32());
            Assert.Equal(["SFZH", "XM", "HH", "NL", "CSNY"], root.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
            Assert.Equal(["Utf8", "Utf8", "Utf8", "Int32", "Utf8"], root.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("type").GetString()));
            Assert.Equal("KeepEnds(6,4)", root.GetProperty("columns")[0].GetProperty("masking").GetString());
            var values = root.GetProperty("values");
            var id = ArrowSamples.IdNumber(0, 0);
            Assert.Equal(id[..6] + "********" + id[^4..], values.GetProperty("SFZH")[0].GetString());
            Assert.Equal(JsonValueKind.Null, values.GetProperty("SFZH")[3].ValueKind);
            Assert.Equal("张*", values.GetProperty("XM")[0].GetString());
            Assert.Equal(pseudonym, values.GetProperty("HH")[0].GetString());
            Assert.Equal("1950", values.GetProperty("CSNY")[0].GetString());
            Assert.Equal("13", values.GetProperty("NL")[1].GetString());
            Assert.Equal(ArrowSamples.IdNumber(1, 4)[..6] + "********" + ArrowSamples.IdNumber(1, 4)[^4..], values.GetProperty("SFZH")[24].GetString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task SafeArrowReader_StreamWrittenByApacheArrowJs_ReadsEveryRow()
    {
        var folder = Directory.CreateTempSubdirectory("govshare-interop-").FullName;
        try
        {
            var file = Path.Combine(folder, "push.arrows");
            await RunNodeAsync(Path.Combine(await InstalledInteropAsync(), "write-stream.mjs"), file);
            var input = await File.ReadAllBytesAsync(file);

            var (schema, rows, _) = await ArrowSamples.ReadAllAsync(input);

            Assert.Equal(1000, rows);
            Assert.Equal(["id_number", "name", "age", "income", "active", "birth", "registered"], schema.FieldsList.Select(f => f.Name));
            await using var reader = await SafeArrowReader.OpenAsync(new MemoryStream(input), declaredLength: input.Length);
            using var batch = await reader.ReadNextBatchAsync();
            Assert.NotNull(batch);
            Assert.Equal("530102199001000000", ((StringArray)batch.Column(0)).GetString(0));
            Assert.True(batch.Column(0).IsNull(3));
            Assert.Equal("李小明", ((StringArray)batch.Column(1)).GetString(1));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The interop folder with its node_modules installed, keyed by the lock file's hash.</summary>
    internal static async Task<string> InstalledInteropAsync()
    {
        var lockFile = await File.ReadAllBytesAsync(Path.Combine(InteropSource, "package-lock.json"));
        var target = Path.Combine(Path.GetTempPath(), "govshare-arrow-interop-" + Convert.ToHexStringLower(SHA256.HashData(lockFile))[..12]);
        Directory.CreateDirectory(target);
        foreach (var name in new[] { "package.json", "package-lock.json", "read-stream.mjs", "write-stream.mjs" })
        {
            File.Copy(Path.Combine(InteropSource, name), Path.Combine(target, name), overwrite: true);
        }

        if (!File.Exists(Path.Combine(target, "node_modules", "apache-arrow", "package.json")))
        {
            await RunAsync("npm", target, "ci", "--no-audit", "--no-fund", "--ignore-scripts");
        }

        return target;
    }

    internal static Task<string> RunNodeAsync(string script, string file) =>
        RunAsync("node", Path.GetDirectoryName(script)!, script, file);

    private static async Task<string> RunAsync(string program, string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"'{program}' did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException(
                $"'{program}' is not on PATH. This test runs Node's apache-arrow package against the exchange's output; install Node.js 18 or later (with npm).", ex);
        }

        using (process)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"'{program} {string.Join(' ', arguments)}' failed with exit code {process.ExitCode}: {await stderr}");
            }

            return await stdout;
        }
    }
}
