using System.Diagnostics;
using System.Globalization;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// A real, small file system (tmpfs of a given size) mounted for one test and removed after it,
/// so a disk can really fill up. Needs root (CAP_SYS_ADMIN); <see cref="SmallFileSystemFactAttribute"/>
/// skips the test, saying why, where mounting is not permitted.
/// </summary>
public sealed class SmallFileSystem : IDisposable
{
    private SmallFileSystem(string path) => Path = path;

    public string Path { get; }

    /// <summary>Bytes free now.</summary>
    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    public static SmallFileSystem Mount(long bytes)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "govshare-tests", "disk-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", string.Create(CultureInfo.InvariantCulture, $"size={bytes}"), "tmpfs", path);
        if (code != 0)
        {
            Directory.Delete(path);
            throw new InvalidOperationException($"mount failed ({code}): {output}");
        }

        return new SmallFileSystem(path);
    }

    /// <summary>Why this machine cannot mount one, or null when it can (checked once, by mounting a tiny one).</summary>
    public static string? WhyNotMountable { get; } = Probe();

    /// <summary>Writes a filler file until only <paramref name="leaveFree"/> bytes are free (0: until the disk is full).</summary>
    public void Fill(string name, long leaveFree)
    {
        var chunk = new byte[64 * 1024];
        using var filler = new FileStream(System.IO.Path.Combine(Path, name), FileMode.Append, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (FreeBytes > leaveFree)
            {
                var size = (int)Math.Min(chunk.Length, Math.Max(4096, FreeBytes - leaveFree));
                filler.Write(chunk, 0, size);
                filler.Flush();
            }
        }
        catch (IOException)
        {
            // Full: exactly what was asked for with leaveFree 0.
        }
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Left in the temp folder; harmless.
        }
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "mounting a small tmpfs needs Linux";
        }

        try
        {
            using var probe = Mount(1024 * 1024);
            return null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException)
        {
            return "cannot mount a small tmpfs here (root or CAP_SYS_ADMIN is needed): " + ex.Message;
        }
    }

    private static (int Code, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}

/// <summary>A fact that needs <see cref="SmallFileSystem"/>: skipped, with the reason, where mounting is not permitted.</summary>
public sealed class SmallFileSystemFactAttribute : FactAttribute
{
    public SmallFileSystemFactAttribute()
    {
        if (SmallFileSystem.WhyNotMountable is { } reason)
        {
            Skip = reason;
        }
    }
}
