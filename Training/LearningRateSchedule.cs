namespace FashionGpu.Training;

/// <summary>
/// The learning rate of each epoch e = 1..E from the base rate lr, with W warm-up epochs:
/// <list type="bullet">
/// <item>warm-up (every schedule but onecycle): epoch e &lt;= W trains at lr * e / W; the schedule then runs over the E - W epochs after it (e' = e - W of E' = E - W);</item>
/// <item>constant: lr;</item>
/// <item>step: lr, then lr / 10 after half of E', lr / 100 after three quarters;</item>
/// <item>cosine: lr * (1 + cos(pi * (e' - 1) / E')) / 2, from lr down towards 0 (never 0);</item>
/// <item>onecycle: a rise from lr / 25 to lr over its first R epochs (R = W, or 30% of E rounded up when W is 0), then a cosine from lr down to lr / 10^4 at the last epoch.</item>
/// </list>
/// </summary>
public static class LearningRateSchedule
{
    public const string Constant = "constant", Step = "step", Cosine = "cosine", OneCycle = "onecycle";
    public static readonly IReadOnlyList<string> Names = [Constant, Step, Cosine, OneCycle];

    public static double Rate(TrainingConfig c, int epoch) => Rate(c.LrSchedule, c.LearningRate, c.Epochs, c.WarmupEpochs, epoch);

    public static double Rate(string schedule, double lr, int epochs, int warmup, int epoch)
    {
        if (schedule == OneCycle) return OneCycleRate(lr, epochs, warmup, epoch);
        if (epoch <= warmup) return lr * epoch / warmup;
        int e = epoch - warmup, span = Math.Max(1, epochs - warmup);
        return schedule switch
        {
            Constant => lr,
            Step => e > 3.0 * span / 4 ? lr / 100 : e > span / 2.0 ? lr / 10 : lr,
            Cosine => lr * (1 + Math.Cos(Math.PI * (e - 1) / span)) / 2,
            _ => throw new ArgumentException($"unknown learning-rate schedule {schedule}"),
        };
    }

    private static double OneCycleRate(double lr, int epochs, int warmup, int epoch)
    {
        int rise = warmup > 0 ? warmup : Math.Max(1, (int)Math.Ceiling(0.3 * epochs));
        double start = lr / 25, end = lr / 1e4;
        if (epoch <= rise) return rise == 1 ? lr : start + (lr - start) * (epoch - 1) / (rise - 1);
        int fall = epochs - rise;
        return end + (lr - end) * (1 + Math.Cos(Math.PI * (epoch - rise) / fall)) / 2;
    }
}
