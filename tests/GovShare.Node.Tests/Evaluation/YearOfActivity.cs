using System.Net;
using GovShare.Node.Catalog;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>
/// A year of activity on one node, through its real API, with the node's clock moved through
/// the test year: three departments, four resources, a push every month (with two gaps that make
/// data late), pulls by two users, share requests answered in time, late and not at all, a refused
/// pull outside the grant's purpose, a dispute corrected. Built once for the tests of the class;
/// the test keeps its own tally of what it did, to compare with what the evaluation reports.
/// </summary>
public sealed class YearOfActivity : IAsyncLifetime
{
    public const string PoliceOpen = "101001/000001";
    public const string PoliceConditional = "101001/000002";
    public const string PoliceSecret = "101001/000003";
    public const string HealthQuarterly = "302001/000001";

    internal EvaluationNode Env { get; private set; } = null!;
    internal Party Police { get; private set; } = null!;
    internal Party Civil { get; private set; } = null!;
    internal Party Health { get; private set; } = null!;

    public int Year => Env.Year.Year;

    /// <summary>Successful pushes and pulls the test made, by department (credit code).</summary>
    public Dictionary<string, int> PushesBy { get; } = [];

    public Dictionary<string, int> PullsBy { get; } = [];

    public Dictionary<string, int> PullsServedBy { get; } = [];

    public int RefusedPulls { get; private set; }

    public async Task InitializeAsync()
    {
        Env = await EvaluationNode.StartAsync();
        var y = Env.Year.Year;
        Police = Env.Department("Kunming Public Security Bureau");
        Civil = Env.Department("Kunming Civil Affairs Bureau");
        Health = Env.Department("Kunming Health Commission");

        await EvaluationNode.CreateEntryAsync(Police, PoliceOpen, ShareType.Unconditional, UpdateCycle.Monthly);
        await EvaluationNode.CreateEntryAsync(Police, PoliceConditional, ShareType.Conditional, UpdateCycle.Monthly);
        await EvaluationNode.CreateEntryAsync(Police, PoliceSecret, ShareType.NotShared, UpdateCycle.Yearly);
        await EvaluationNode.CreateEntryAsync(Health, HealthQuarterly, ShareType.Unconditional, UpdateCycle.Quarterly);

        // What happens when, in China time; run in time order so the log's times only move forward.
        var schedule = new List<(DateOnly Day, int Hour, Func<Task> Act)>();
        void At(int month, int day, int hour, Func<Task> act) => schedule.Add((new DateOnly(y, month, day), hour, act));
        string? conditionalRequest = null, lateRequest = null, laterRequest = null, dispute = null;
        for (var month = 1; month <= 12; month++)
        {
            var m = month;

            // Pushes on the 5th: the open resource skips May and June, health pushes in January and July only: both late once.
            At(m, 5, 10, async () =>
            {
                if (m is not (5 or 6))
                {
                    await Push(Police, PoliceOpen, 10 + m);
                }

                await Push(Police, PoliceConditional, 20 + m);
                if (m is 1 or 7)
                {
                    await Push(Health, HealthQuarterly, 5);
                }
            });

            // Pulls on the 15th: civil twice from the open resource and (from February) once under its grant; health from
            // the open resource and (from September) under its grant; civil from health's resource every other month.
            At(m, 15, 14, async () =>
            {
                await Pull(Civil, Police, PoliceOpen, "casework");
                await Pull(Civil, Police, PoliceOpen, "casework");
                await Pull(Health, Police, PoliceOpen, "survey");
                if (m >= 2)
                {
                    await Pull(Civil, Police, PoliceConditional, "social-assistance");
                }

                if (m >= 9)
                {
                    await Pull(Health, Police, PoliceConditional, "health-check");
                }

                if (m % 2 == 0)
                {
                    await Pull(Civil, Health, HealthQuarterly, "casework");
                }
            });
        }

        // Applied on Wednesday 6 January, approved on Tuesday the 12th: 4 working days.
        At(1, 6, 9, async () => conditionalRequest = await Apply(Civil, "social-assistance", new DateOnly(y, 1, 6)));
        At(1, 12, 15, async () => await Ok(await Post(Police.Client, $"v1/requests/{conditionalRequest}/decision", new { outcome = "approve" })));

        // Applied on Monday 8 March (due the 22nd), denied on Tuesday the 30th: 16 working days, late.
        At(3, 8, 9, async () => lateRequest = await Apply(Health, "epidemic-survey", new DateOnly(y, 3, 8)));
        At(3, 30, 16, async () => await Ok(await Post(Police.Client, $"v1/requests/{lateRequest}/decision", new { outcome = "deny", reasonCode = "purpose.unclear", reasonText = "用途说明不充分" })));

        // Outside the purpose of civil's grant, and health without any grant: refused and logged, never counted as exchanges.
        At(3, 10, 11, async () => await Refused(Civil, PoliceConditional, "tax-check"));
        At(4, 20, 11, async () => await Refused(Health, PoliceConditional, "survey"));

        // A dispute on the conditional data (June's push, version 6), corrected two days later by a correcting push (version 7, Art. 27).
        At(6, 8, 10, async () => dispute = (await Ok(await Post(Civil.Client, "v1/disputes", new { resourceCode = PoliceConditional, dataVersion = "6", kind = "wrong", description = "出生日期与户籍档案不一致" }), HttpStatusCode.Created)).GetProperty("id").GetString());
        At(6, 10, 10, async () =>
        {
            await Push(Police, PoliceConditional, 26);
            await Ok(await Post(Police.Client, $"v1/disputes/{dispute}/answer", new { outcome = "corrected", correctingVersion = "7", reason = "已更正" }));
        });

        // Applied on Monday 2 August, approved on the 4th: 2 working days.
        At(8, 2, 9, async () => laterRequest = await Apply(Health, "health-check", new DateOnly(y, 8, 2)));
        At(8, 4, 9, async () => await Ok(await Post(Police.Client, $"v1/requests/{laterRequest}/decision", new { outcome = "approve" })));

        // The police review their catalog in November (Art. 18); health never does, so its entry goes stale in January.
        At(11, 16, 10, async () =>
        {
            await EvaluationNode.MaintainEntryAsync(Police, PoliceOpen, ShareType.Unconditional, UpdateCycle.Monthly, "Reviewed in the yearly maintenance");
            await EvaluationNode.MaintainEntryAsync(Police, PoliceConditional, ShareType.Conditional, UpdateCycle.Monthly, "Reviewed in the yearly maintenance");
            await EvaluationNode.MaintainEntryAsync(Police, PoliceSecret, ShareType.NotShared, UpdateCycle.Yearly, "Reviewed in the yearly maintenance");
        });

        // Applied on Monday 4 October and never answered.
        At(10, 4, 9, async () => await Apply(Health, "statistics", new DateOnly(y, 10, 4)));

        foreach (var (day, hour, act) in schedule.OrderBy(s => s.Day).ThenBy(s => s.Hour))
        {
            Env.At(day, hour);
            await act();
        }

        // The report is made in January of the next year, before the 15th, after the operator's scan.
        Env.At(new DateOnly(y + 1, 1, 10), 9);
        Scan = await Env.ScanAsync();
    }

    /// <summary>The operator's violation scan of 10 January.</summary>
    public System.Text.Json.JsonElement Scan { get; private set; }

    private static async Task<string> Apply(Party user, string purpose, DateOnly from)
    {
        var body = ApplicationFor(purpose, PoliceConditional, from, new DateOnly(from.Year, 12, 31), "id_number", "name");
        return (await Ok(await Post(user.Client, "v1/requests", body), HttpStatusCode.Created)).GetProperty("id").GetString()!;
    }

    private async Task Push(Party provider, string code, int rows)
    {
        await EvaluationNode.PushAsync(provider, code, rows);
        PushesBy[provider.CreditCode] = PushesBy.GetValueOrDefault(provider.CreditCode) + 1;
    }

    private async Task Pull(Party user, Party provider, string code, string purpose)
    {
        var (status, _) = await EvaluationNode.PullAsync(user, code, purpose);
        Assert.Equal(HttpStatusCode.OK, status);
        PullsBy[user.CreditCode] = PullsBy.GetValueOrDefault(user.CreditCode) + 1;
        PullsServedBy[provider.CreditCode] = PullsServedBy.GetValueOrDefault(provider.CreditCode) + 1;
    }

    private async Task Refused(Party user, string code, string purpose)
    {
        var (status, _) = await EvaluationNode.PullAsync(user, code, purpose);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        RefusedPulls++;
    }

    public async Task DisposeAsync() => await Env.DisposeAsync();
}
