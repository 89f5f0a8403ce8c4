namespace FashionGpu.Training;

/// <summary>
/// A fault-injection point for the kill-and-resume tests: with FASHIONGPU_TEST_HOLD=POINT in
/// the environment, the run stops at that point (says so on stderr, then waits to be killed),
/// so a test can kill it exactly there, or interrupt it there (Ctrl-C or SIGTERM end the wait,
/// and the run stops as it would have). Points: <c>row:E</c>, after epoch E's metrics row and
/// before its checkpoint; <c>step:E:S</c>, after step S of epoch E. Unset, it costs one test of
/// a static field.
/// </summary>
public static class TestHold
{
    private static readonly string? point = Environment.GetEnvironmentVariable("FASHIONGPU_TEST_HOLD");

    public static bool Enabled => point is not null;

    public static void At(string here, CancellationToken cancel)
    {
        if (here != point) return;
        Console.Error.WriteLine($"test hold: {here}");
        Console.Error.Flush();
        cancel.WaitHandle.WaitOne();
    }
}
