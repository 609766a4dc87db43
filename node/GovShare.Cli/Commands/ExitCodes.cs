namespace GovShare.Cli.Commands;

/// <summary>What the program's exit code means, for scripts that call it (README.md, "Exit codes").</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The operation failed: the node refused it, or a file could not be written.</summary>
    public const int Failed = 1;

    /// <summary>Bad arguments or settings (a typo, a missing option or file, a CA that does not vouch for the node): nothing was done.</summary>
    public const int Usage = 2;

    /// <summary>The node could not be reached.</summary>
    public const int Unreachable = 3;

    /// <summary>The department's data does not convert to the resource's items: nothing was pushed or written.</summary>
    public const int DataRejected = 4;

    /// <summary>
    /// <c>node run</c>, <c>demo</c>: a log is damaged or tampered with (not a torn write), so the node
    /// does not start. The message names the log, the record's sequence and the file. <c>log verify</c>
    /// exits with it on the same damage (<c>LogVerifyCommand.BadRecord</c>).
    /// </summary>
    public const int LogDamaged = 5;

    /// <summary>
    /// <c>node run</c>, <c>demo</c>, <c>node rebuild-state</c>: the data folder is of a newer format than this
    /// build reads (written by a later release), or its format-version file is unreadable. The message names both versions.
    /// </summary>
    public const int DataFolderFormat = 6;

    /// <summary>
    /// <c>node restore</c>: the backup does not match its MANIFEST.json (a file changed, truncated, added
    /// or missing), or is not a GovShare backup. The message names the files; nothing was restored.
    /// </summary>
    public const int BackupInvalid = 7;

    /// <summary>
    /// <c>node run</c>: the data folder was restored from a backup and Kafka's copy of one of its logs cannot be
    /// taken back — it does not continue the restored chain (another record at a sequence, a gap, a bad
    /// signature), or Kafka could not be read; or the backup's manifest was not signed with the node's own key.
    /// Nothing was appended; the message names the log, the topic and the record (or the two keys). The next
    /// start tries again.
    /// </summary>
    public const int RestoreRefused = 8;

    /// <summary>Interrupted (Ctrl+C): the shell's convention, 128 + SIGINT.</summary>
    public const int Cancelled = 130;
}
