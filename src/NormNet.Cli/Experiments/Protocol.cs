namespace NormNet.Cli.Experiments;

/// <summary>What the command line asks of an experiment's protocol; null: the experiment's default for the mode.
/// Lists are grids (fig1 takes two values of --lr and --init-std, regularization a list of --batch-size, learning-rate
/// a list of --lr); an experiment that takes one value refuses a list.</summary>
internal sealed record Protocol(int? Steps = null, double[]? Lr = null, int[]? BatchSize = null, double[]? InitStd = null)
{
    public static readonly Protocol Default = new();

    /// <summary>The requested steps, or <paramref name="fallback"/>.</summary>
    public int StepsOr(int fallback) => Steps ?? fallback;

    public double LrOr(double fallback, string experiment) => One(Lr, fallback, "--lr", experiment);

    public int BatchSizeOr(int fallback, string experiment) => One(BatchSize, fallback, "--batch-size", experiment);

    public double InitStdOr(double fallback, string experiment) => One(InitStd, fallback, "--init-std", experiment);

    private static T One<T>(T[]? values, T fallback, string flag, string experiment) => values switch
    {
        null => fallback,
        [var v] => v,
        _ => throw new UsageException($"{flag}: the {experiment} experiment takes one value, got {values.Length}."),
    };
}
