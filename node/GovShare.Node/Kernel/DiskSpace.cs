namespace GovShare.Node.Kernel;

/// <summary>Free space of the data folder's file system, and whether a failure was for lack of it.</summary>
public static class DiskSpace
{
    private const int ENOSPC = 28;
    private const int EDQUOT = 122;
    private const int ErrorHandleDiskFull = 0x27;
    private const int ErrorDiskFull = 0x70;

    /// <summary>Bytes available to this process on the file system holding <paramref name="path"/>.</summary>
    public static long FreeBytes(string path) => new DriveInfo(path).AvailableFreeSpace;

    /// <summary>
    /// True when <paramref name="exception"/> (or an inner one) is "no space left" or "quota
    /// exceeded": a condition that ends when space is freed, unlike an I/O error. On Unix .NET
    /// puts the errno in the IOException's HResult.
    /// </summary>
    public static bool IsFull(Exception? exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            if (ex is IOException io && (OperatingSystem.IsWindows() ? (io.HResult & 0xFFFF) is ErrorHandleDiskFull or ErrorDiskFull : io.HResult is ENOSPC or EDQUOT))
            {
                return true;
            }
        }

        return false;
    }
}
