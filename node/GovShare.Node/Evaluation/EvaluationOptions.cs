namespace GovShare.Node.Evaluation;

/// <summary>
/// Settings of the evaluation (section <c>Evaluation</c>). Every rule a violation is detected by
/// has its threshold here; <c>README.md</c> defines the rules.
/// </summary>
public sealed class EvaluationOptions
{
    public const string Section = "Evaluation";

    /// <summary>Working days a department has to rectify a violation after it is notified (Art. 42).</summary>
    public int RectificationWorkingDays { get; set; } = 15;

    /// <summary>Working days after registration by which a department must have compiled its catalog (Art. 7, 11).</summary>
    public int CatalogCompileWorkingDays { get; set; } = 15;

    /// <summary>Working days after the end of an update cycle before data counts as late (Art. 16: 10).</summary>
    public int DataUpdateWorkingDays { get; set; } = 10;

    /// <summary>Refused pulls for want of a grant (no-grant, item-not-granted) by one user on one resource that make a misuse…</summary>
    public int NoGrantAttempts { get; set; } = 3;

    /// <summary>…when they fall within this many days (24-hour periods from the first).</summary>
    public int NoGrantWindowDays { get; set; } = 7;

    /// <summary>How often the violation scan runs by itself (Art. 42); zero switches the schedule off (scans on demand only).</summary>
    public TimeSpan ScanInterval { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Longest period a scorecard covers, in days; longer ones are refused (the log is read whole).</summary>
    public int MaxPeriodDays { get; set; } = 3 * 366;

    /// <summary>
    /// How often a node with a parent checks that the parent holds its report of the past year (Art. 40), from
    /// 1 January, and submits it when not or when its children's reports changed it; zero switches it off
    /// (submitted on demand only: <c>POST /v1/operator/evaluation/reports/{year}/submit</c>).
    /// </summary>
    public TimeSpan ReportSubmitInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Every problem of the settings at once.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        Range(errors, nameof(RectificationWorkingDays), RectificationWorkingDays, 1, 120);
        Range(errors, nameof(CatalogCompileWorkingDays), CatalogCompileWorkingDays, 1, 250);
        Range(errors, nameof(DataUpdateWorkingDays), DataUpdateWorkingDays, 0, 60);
        Range(errors, nameof(NoGrantAttempts), NoGrantAttempts, 2, 1000);
        Range(errors, nameof(NoGrantWindowDays), NoGrantWindowDays, 1, 366);
        Range(errors, nameof(MaxPeriodDays), MaxPeriodDays, 1, 10 * 366);
        if (ScanInterval != TimeSpan.Zero && (ScanInterval < TimeSpan.FromSeconds(1) || ScanInterval > TimeSpan.FromDays(7)))
        {
            errors.Add($"{Section}:{nameof(ScanInterval)} must be 0 (off) or between 00:00:01 and 7.00:00:00 (is {ScanInterval}).");
        }
        if (ReportSubmitInterval != TimeSpan.Zero && (ReportSubmitInterval < TimeSpan.FromSeconds(1) || ReportSubmitInterval > TimeSpan.FromDays(1)))
        {
            errors.Add($"{Section}:{nameof(ReportSubmitInterval)} must be 0 (off) or between 00:00:01 and 1.00:00:00 (is {ReportSubmitInterval}).");
        }

        return errors;
    }

    private static void Range(List<string> errors, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{Section}:{name} must be between {min} and {max} (is {value}).");
        }
    }
}
