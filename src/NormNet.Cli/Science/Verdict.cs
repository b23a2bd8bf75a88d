namespace NormNet.Cli.Science;

/// <summary>What the numbers say about a claim.</summary>
internal enum Outcome { Held, NotHeld, Inconclusive, NoVerdict }

/// <summary>The direction in which a claim predicts an effect (a paired difference, one per seed) to lie.</summary>
internal enum Direction { Positive, Negative }

/// <summary>
/// The one rule every experiment decides by: an effect is a difference between the treatment and its control under
/// the same protocol, one value per seed (paired: same seed, same weights and data order). It is Held when its 95%
/// t-interval lies entirely on the side of zero the claim predicts, Not held when it lies entirely on the other side,
/// and Inconclusive when it contains zero (or fewer than two seeds gave a value). A claim made of several effects is
/// Held when all are, Not held when any is, else Inconclusive. A smoke run gives no verdict.
/// </summary>
internal static class Verdict
{
    public const string Rule =
        "Each effect is a paired difference between the treatment and its control (same seed, same protocol), one value per seed. " +
        "An effect is *Held* when its 95% t-interval lies entirely on the side of zero the claim predicts, *Not held* when it lies " +
        "entirely on the other side, and *Inconclusive* when the interval contains zero or fewer than two seeds gave a value. " +
        "A claim of several effects is Held when all are held, Not held when any is not held, and Inconclusive otherwise.";

    public const string SmokeLine = "smoke run: no verdict";

    /// <summary>The outcome of one effect.</summary>
    public static Outcome Of(Estimate effect, Direction claimed)
    {
        if (!effect.HasInterval) return Outcome.Inconclusive;
        bool positive = effect.Low > 0, negative = effect.High < 0;
        if (!positive && !negative) return Outcome.Inconclusive;
        return positive == (claimed == Direction.Positive) ? Outcome.Held : Outcome.NotHeld;
    }

    /// <summary>The outcome of a claim made of several effects.</summary>
    public static Outcome All(params Outcome[] parts) =>
        parts.Any(p => p == Outcome.NotHeld) ? Outcome.NotHeld
        : parts.Length > 0 && parts.All(p => p == Outcome.Held) ? Outcome.Held
        : Outcome.Inconclusive;

    public static string Word(Outcome o) => o switch
    {
        Outcome.Held => "Held",
        Outcome.NotHeld => "Not held",
        Outcome.Inconclusive => "Inconclusive",
        _ => "No verdict",
    };

    /// <summary>The verdict line's opening: the outcome's word, or the smoke line.</summary>
    public static string Lead(Outcome o, bool smoke) => smoke ? SmokeLine : Word(o);
}
