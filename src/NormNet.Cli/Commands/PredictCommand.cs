using System.CommandLine;
using System.Globalization;
using System.Text;
using NormNet.Data;
using NormNet.Images;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet predict MODEL INPUT...</c>: classifies (or regresses) new samples, rows of a CSV file or image
/// files, in eval mode, and writes a CSV of predictions.</summary>
internal static class PredictCommand
{
    private const int BatchSize = 256;

    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A model.safetensors or checkpoint.safetensors written by normnet train." };
        var inputs = new Argument<string[]>("inputs") { Description = "A CSV file with the training data's feature columns (a label column, if present, is ignored), or image files and folders of images.", Arity = ArgumentArity.OneOrMore };
        var outPath = new Option<string?>("--out") { Description = "The CSV file to write (default: standard output)." };
        var threads = CommonOptions.Threads();
        var command = new Command("predict", "Predict the class (with each class's probability) or the regression targets of new samples; writes a CSV.") { model, inputs, outPath, threads };
        command.SetAction(r =>
        {
            using var compute = CommonOptions.UseThreads(r.GetValue(threads));
            var loaded = CheckpointModel.Load(r.GetValue(model)!, null, null);
            var (ids, samples) = Load(loaded.Card, r.GetValue(inputs)!);
            string csv = Predict(loaded, ids, samples);
            if (r.GetValue(outPath) is { } path)
            {
                AtomicFile.WriteAllText(path, csv);
                Console.WriteLine($"Wrote {ids.Count} predictions to {path}.");
            }
            else Console.Write(csv);
            return 0;
        });
        return command;
    }

    /// <summary>The samples to predict, as (id, features before preprocessing) in input order.</summary>
    private static (IReadOnlyList<string> Ids, Func<int, float[], float[]> Features) Load(ModelCard card, string[] inputs)
    {
        int[] shape = card.DataShape;
        try
        {
            if (card.ScalePixels && shape.Length == 3)
            {
                var files = inputs.SelectMany(ImagePaths).ToList();
                if (files.Count == 0) throw new UsageException($"no image files in {string.Join(", ", inputs)} (expected {string.Join(", ", ImageFolder.Extensions)}).");
                var images = ImageFiles.Load(files, shape[0], new ImageSize(shape[1], shape[2]));
                return (files, (i, row) => { images.CopyFeatures(i, row); return row; });
            }
            if (inputs.Length != 1 || !DataReaders.IsCsv(inputs[0]))
                throw new UsageException($"this model reads table rows: give one CSV file with the columns {string.Join(", ", card.FeatureNames.Take(5))}{(card.FeatureNames.Count > 5 ? ", ..." : "")}.");
            var table = CsvFeatures.Read(inputs[0], card.FeatureNames);
            int count = card.FeatureNames.Count == 0 ? 0 : table.Length / card.FeatureNames.Count;
            var ids = Enumerable.Range(1, count).Select(i => $"{inputs[0]}:{i + 1}").ToList();
            return (ids, (i, row) => { table.AsSpan(i * row.Length, row.Length).CopyTo(row); return row; });
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException)
        {
            throw new UsageException(e.Message);
        }
    }

    private static IEnumerable<string> ImagePaths(string input)
    {
        if (Directory.Exists(input))
            return Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Where(ImageFolder.IsImageFile).Order(StringComparer.Ordinal);
        if (File.Exists(input)) return [input];
        throw new UsageException($"input not found: {input}");
    }

    /// <summary>Runs the model over the samples in batches and formats the predictions as CSV.</summary>
    private static string Predict(CheckpointModel loaded, IReadOnlyList<string> ids, Func<int, float[], float[]> features)
    {
        var card = loaded.Card;
        var standardizer = card.Standardizer();
        int perSample = card.InputShape.Aggregate(1, (a, d) => a * d);
        bool classes = card.Task == TaskKind.Classification;
        var names = classes ? card.ClassNames : card.TargetNames;
        var csv = new StringBuilder(classes ? "input,prediction," + string.Join(',', names.Select(n => Quote("p_" + n))) : "input," + string.Join(',', names.Select(Quote))).Append('\n');
        loaded.Model.Eval();
        var row = new float[perSample];
        for (int start = 0; start < ids.Count; start += BatchSize)
        {
            int rows = Math.Min(BatchSize, ids.Count - start);
            var x = Tensor.Uninitialized([rows, .. card.InputShape]);
            for (int i = 0; i < rows; i++) features(start + i, row).CopyTo(x.Span.Slice(i * perSample, perSample));
            standardizer?.Apply(x.Span);
            var y = loaded.Model.Forward(x).ReadOnlySpan;
            for (int i = 0; i < rows; i++)
            {
                var output = y.Slice(i * names.Count, names.Count);
                if (!AllFinite(output))
                    throw new CommandFailedException($"the model's output for {ids[start + i]} is not finite; there is no prediction to report.");
                csv.Append(Quote(ids[start + i])).Append(',');
                if (classes) AppendClass(csv, output, names);
                else csv.AppendJoin(',', output.ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
                csv.Append('\n');
            }
        }
        return csv.ToString();
    }

    // softmax(output) with the row maximum subtracted; the prediction is the arg-max (ties to the lowest index)
    private static void AppendClass(StringBuilder csv, ReadOnlySpan<float> output, IReadOnlyList<string> names)
    {
        int best = 0;
        for (int j = 1; j < output.Length; j++) if (output[j] > output[best]) best = j;
        double sum = 0;
        foreach (float v in output) sum += Math.Exp(v - output[best]);
        csv.Append(Quote(names[best]));
        foreach (float v in output) csv.Append(',').Append((Math.Exp(v - output[best]) / sum).ToString("G6", CultureInfo.InvariantCulture));
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values) if (!float.IsFinite(v)) return false;
        return true;
    }

    private static string Quote(string s) => s.IndexOfAny([',', '"', '\n', '\r']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
