using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace GovShare.Node.Tests.Catalog;

/// <summary>Departments, entries and a store on a real LiteDB file in a temporary folder.</summary>
internal sealed class CatalogFixture : IDisposable
{
    public static readonly CallerIdentity Police = CallerIdentity.Department("530100", CreditCode.Complete("11530100MB0000001"));
    public static readonly CallerIdentity Civil = CallerIdentity.Department("530100", CreditCode.Complete("11530100MB0000002"));
    public static readonly CallerIdentity Health = CallerIdentity.Department("530100", CreditCode.Complete("11530100MB0000003"));

    public CatalogFixture(WorkingDayCalendar? calendar = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "govshare-catalog-" + Guid.NewGuid().ToString("N"));
        Calendar = calendar ?? PlainCalendar(2026, 2027);
        Open();
    }

    public string Path { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 2, 2, 0, 0, TimeSpan.Zero));

    public WorkingDayCalendar Calendar { get; }

    public NodeDataFolder Folder { get; private set; } = null!;

    public CatalogStore Store { get; private set; } = null!;

    /// <summary>Closes the database and opens it again, as a node restart does.</summary>
    public void Restart()
    {
        Folder.Dispose();
        Open();
    }

    private void Open()
    {
        Folder = NodeDataFolder.Open(Path);
        Store = new CatalogStore(Folder, new StateCatalogChangeSink(Folder), Calendar, Time, NullLogger<CatalogStore>.Instance);
    }

    public void Dispose()
    {
        Folder.Dispose();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }

    /// <summary>A calendar of weekends only (no holidays) for the given years.</summary>
    public static WorkingDayCalendar PlainCalendar(params int[] years) =>
        new(years.Select(y => new HolidayFile(y, "TEST", "test calendar", null, [], [])));

    public static DepartmentRef Ref(CallerIdentity caller) => new(caller.DivisionCode, caller.CreditCode!);

    public static CatalogEntry Entry(
        string code,
        CallerIdentity provider,
        ShareType share = ShareType.Unconditional,
        string name = "人口基本信息",
        IReadOnlyList<InformationItem>? items = null) => new()
        {
            ResourceCode = code,
            Name = name,
            Provider = Ref(provider),
            Abstract = "常住人口的基本信息",
            Format = ResourceFormat.Database,
            Items = items ??
            [
                new InformationItem("citizen_id", "公民身份号码", "utf8", 18, Nullable: false, Sensitivity: Sensitivity.Sensitive, Masking: MaskingRule.KeepEnds(6, 4)),
                new InformationItem("full_name", "姓名", "utf8", 50),
                new InformationItem("birth_date", "出生日期", "date32"),
            ],
            Share = share switch
            {
                ShareType.Conditional => new ShareAttributes(ShareType.Conditional, Condition: "仅限社会保障业务"),
                ShareType.NotShared => new ShareAttributes(ShareType.NotShared, Reason: "《中华人民共和国保守国家秘密法》"),
                _ => new ShareAttributes(ShareType.Unconditional),
            },
            Open = new OpenAttributes(false, null),
            UpdateCycle = UpdateCycle.Daily,
            ReleaseDate = new DateOnly(2026, 1, 15),
            // Art. 34: the node shares a resource only after its secrecy review is on record.
            SecrecyReview = new SecrecyReview(new DateOnly(2026, 1, 15), "市保密办"),
        };
}
