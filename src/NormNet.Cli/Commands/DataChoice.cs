using System.CommandLine;
using System.Globalization;
using NormNet.Data;

namespace NormNet.Cli.Commands;

/// <summary>What data a run uses: the file options as given (stored in checkpoints, so that <c>eval</c> and
/// <c>--resume</c> can find the same data again).</summary>
/// <param name="Data">An IDX folder, a CSV file or an image folder (ImageFolder layout); null for the default Fashion-MNIST.</param>
/// <param name="Test">Test data in the same format, or null.</param>
/// <param name="ValFraction">Without <paramref name="Test"/>, the fraction of <paramref name="Data"/> held out for testing (stratified).</param>
/// <param name="Task">classification or regression.</param>
/// <param name="Label">CSV: the label column(s), comma-separated; null for the last column.</param>
/// <param name="ImageSize">Image folders: the size images are resized to, as (H, W); null requires one size.</param>
/// <param name="Color">Image folders: grey or rgb; null chooses rgb when any image has colour.</param>
/// <param name="Seed">Seeds the held-out split.</param>
/// <param name="SkipBadFiles">Image folders: skip unreadable images with a warning instead of stopping.</param>
/// <param name="Normalize">Images: "channel" standardizes each channel with the training split's mean and std (after
/// pixels / 255, as torchvision's Normalize); null or "none" keeps [0, 1] pixels. Tables are always standardized per feature.</param>
internal sealed record DataChoice(string? Data, string? Test, double ValFraction, TaskKind Task, string? Label,
    int[]? ImageSize, string? Color, ulong Seed, bool SkipBadFiles = false, string? Normalize = null)
{
    public const double DefaultValFraction = 0.2;

    /// <summary>The data's two splits and a line describing them.</summary>
    internal sealed record Loaded(Dataset Train, Dataset Test, string Description, string? Source);

    /// <summary>Loads the training and test splits, turning a missing or broken file into a usage error that names it.</summary>
    public Loaded Load()
    {
        try
        {
            if (string.IsNullOrWhiteSpace(Data))
            {
                if (Test is not null) throw new UsageException("--test needs --data (the default data set has its own test split).");
                if (Task != TaskKind.Classification) throw new UsageException("the default data set (Fashion-MNIST) is a classification task.");
                var builtIn = DataSets.Resolve(null);
                return new Loaded(builtIn.Train, builtIn.Test, builtIn.Description, null);
            }
            return LoadPath(Path.GetFullPath(Data));
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or InvalidDataException or ArgumentException)
        {
            throw new UsageException($"cannot use the data: {e.Message}");
        }
    }

    private Loaded LoadPath(string path)
    {
        if (Directory.Exists(path) && ImageDataset.HasStandardFiles(path))
        {
            if (Task != TaskKind.Classification) throw new UsageException($"{path}: IDX data sets are classification tasks; drop --task {Task.ToString().ToLowerInvariant()}.");
            if (Test is not null) throw new UsageException($"{path}: an IDX folder has its own test split (t10k-*); drop --test.");
            var idx = ImageDataset.FromDirectory(path, Path.GetFileName(path));
            return new Loaded(idx.Train, idx.Test, idx.Description, path);
        }
        if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder.");
        var all = DataReaders.Read(this, path, reference: null);
        if (Test is not null)
        {
            var test = DataReaders.Read(this, Path.GetFullPath(Test), reference: all);
            return new Loaded(all, test, Describe(all, test, $"test data {Test}"), path);
        }
        var (train, heldOut) = DataSplit.ByFraction(all, ValFraction, Seed);
        return new Loaded(train, heldOut, Describe(train, heldOut, string.Create(CultureInfo.InvariantCulture, $"{ValFraction:P0} held out, seed {Seed}")), path);
    }

    /// <summary>Loads <see cref="Data"/> whole as evaluation data for a model described by <paramref name="card"/> (an IDX folder:
    /// its test split), with classes mapped to the card's class names.</summary>
    public Dataset LoadWhole(Serialization.ModelCard card)
    {
        try
        {
            string path = Path.GetFullPath(Data ?? throw new UsageException("no data to evaluate on."));
            if (Directory.Exists(path) && ImageDataset.HasStandardFiles(path)) return ImageDataset.FromDirectory(path).Test;
            if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder.");
            return DataReaders.Read(this, path, card);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or InvalidDataException or ArgumentException)
        {
            throw new UsageException($"cannot use the data: {e.Message}");
        }
    }

    /// <summary>A short description of evaluation data.</summary>
    public string Summary(Serialization.ModelCard card) => $"{card.Task.ToString().ToLowerInvariant()} data, read as the model's training data was";

    private string Describe(Dataset train, Dataset test, string how)
    {
        string samples = train.IsImage ? $"images of {train.ShapeString}" : $"samples of {train.FeatureCount} features";
        string targets = train.Task == TaskKind.Classification ? $"{train.ClassCount} classes" : $"regression of {string.Join(", ", train.TargetNames)}";
        return string.Create(CultureInfo.InvariantCulture, $"{Data} ({how}): {train.Count:N0} train / {test.Count:N0} test {samples}, {targets}");
    }

    /// <summary>The options that choose the data, shared by train, eval and predict.</summary>
    internal sealed class Options
    {
        public Option<string?> Data { get; } = new("--data")
        {
            Description = "The data: a CSV file (header row, numeric features, a label column), a folder of images in class sub-folders " +
                          "(root/CLASS/*.png|jpg|...), or a folder of IDX files. Default: the full Fashion-MNIST in " +
                          $"{DataSets.SystemFashionMnistDirectory} if installed, else the embedded subset.",
        };

        public Option<string?> Test { get; } = new("--test") { Description = "Test data in the same format as --data (default: hold out --val-fraction of --data)." };

        public Option<double?> ValFraction { get; } = new("--val-fraction")
        {
            Description = string.Create(CultureInfo.InvariantCulture, $"Without --test: the fraction of --data held out for testing, stratified by class (default {DefaultValFraction})."),
        };

        public Option<string?> Task { get; } = new("--task") { Description = "classification (the default) or regression." };

        public Option<string?> Label { get; } = new("--label") { Description = "CSV: the label column (default: the last column); for regression, several columns separated by commas." };

        public Option<string?> ImageSize { get; } = new("--image-size") { Description = "Image folders: resize every image to HxW (e.g. 32x32, or 32); default: all images must have one size." };

        public Option<string?> Color { get; } = new("--color") { Description = "Image folders: grey or rgb (default: rgb when any image has colour)." };

        public Option<bool> SkipBadFiles { get; } = new("--skip-bad-files") { Description = "Image folders: skip unreadable or corrupt images with a warning naming each, instead of stopping at the first." };

        public Options()
        {
            Task.AcceptOnlyFromAmong("classification", "regression");
            Color.AcceptOnlyFromAmong("grey", "rgb");
            Normalize.AcceptOnlyFromAmong("none", "channel");
        }

        public Option<string?> Normalize { get; } = new("--normalize")
        {
            Description = "Images: none (the default: pixels / 255 in [0, 1]) or channel (then each channel's mean and std of the training split, as torchvision's Normalize). Tables are always standardized per feature.",
        };

        public IEnumerable<Option> All => [Data, Test, ValFraction, Task, Label, ImageSize, Color, SkipBadFiles, Normalize];

        /// <summary>Whether any data option was given.</summary>
        public bool AnyGiven(ParseResult r) => All.Any(o => r.GetResult(o) is { Implicit: false });

        /// <summary>Validates the options (before anything is loaded).</summary>
        public DataChoice Parse(ParseResult r, ulong seed)
        {
            double fraction = r.GetValue(ValFraction) ?? DefaultValFraction;
            if (!(fraction > 0 && fraction < 1)) throw new UsageException($"--val-fraction must be in (0, 1), got {fraction.ToString(CultureInfo.InvariantCulture)}.");
            if (r.GetValue(ValFraction) is not null && r.GetValue(Test) is not null) throw new UsageException("give --test or --val-fraction, not both.");
            var task = r.GetValue(Task) == "regression" ? TaskKind.Regression : TaskKind.Classification;
            return new DataChoice(r.GetValue(Data), r.GetValue(Test), fraction, task, r.GetValue(Label), ParseSize(r.GetValue(ImageSize)), r.GetValue(Color), seed, r.GetValue(SkipBadFiles), r.GetValue(Normalize));
        }

        private static int[]? ParseSize(string? text)
        {
            if (text is null) return null;
            var parts = text.Split('x', 'X');
            if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is >= 1 and <= 4096))
            {
                int h = int.Parse(parts[0], CultureInfo.InvariantCulture);
                return [h, parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : h];
            }
            throw new UsageException($"--image-size must be HxW or N with sizes in [1, 4096], got '{text}'.");
        }
    }
}
