namespace NormNet.Bench;

/// <summary>Tiny "--name value" parser for the bench commands.</summary>
internal sealed class Options(string[] args)
{
    public string? Get(string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v) : fallback;

    public int[] Ints(string name, int[] fallback) =>
        Get(name) is { } v ? v.Split(',').Select(int.Parse).ToArray() : fallback;
}
