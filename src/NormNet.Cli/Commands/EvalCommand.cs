using System.CommandLine;
using System.Globalization;
using NormNet.Data;
using NormNet.Training;
using Spectre.Console;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet eval</c>: evaluates a model in eval mode on the test split of the data it was trained on, or on other
/// data of the same shape; prints <c>name value</c> lines (accuracy, loss, rmse, r2) and, for classes, the confusion matrix.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("model") { Description = "A checkpoint.safetensors or model.safetensors written by normnet train (or a PyTorch state_dict with --arch and --bn)." };
        var arch = new Option<string?>("--arch") { Description = "For a bare state_dict: mlp-sigmoid, cnn or resnet (Fashion-MNIST's 28x28 images)." };
        arch.AcceptOnlyFromAmong("mlp-sigmoid", "cnn", "resnet");
        var bn = new Option<string?>("--bn") { Description = "For a bare state_dict: on or off." };
        bn.AcceptOnlyFromAmong("on", "off");
        var data = new Option<string?>("--data") { Description = "Data to evaluate on, in the training data's format (a CSV file, an image folder, an IDX folder's test split); default: the test split of the data the model was trained on." };
        var threads = CommonOptions.Threads();
        var allowInvalid = new Option<bool>("--allow-invalid") { Description = "Load a model even with NaN/infinite weights, negative variances or a wrong checksum, to inspect a broken model." };
        var command = new Command("eval", "Evaluate a model in eval mode: accuracy or RMSE/R^2, and a confusion matrix with class names.") { checkpoint, arch, bn, data, threads, allowInvalid };
        command.SetAction(r =>
        {
            using var compute = CommonOptions.UseThreads(r.GetValue(threads));
            string path = r.GetValue(checkpoint)!;
            var loaded = CheckpointModel.Load(path, r.GetValue(arch), r.GetValue(bn), validate: !r.GetValue(allowInvalid));
            var (test, description) = EvaluationData(loaded, r.GetValue(data));
            var result = Trainer.Evaluate(loaded.Model, TrainingRun.Loader(test, loaded.Card, loaded.Layout));
            if (!result.OutputsFinite)
                throw new CommandFailedException($"{path}: the model's outputs are not finite ({result.NonFiniteOutputs} of {result.Count} test samples); there is no score to report.");
            Console.WriteLine($"Data: {description}");
            Console.WriteLine($"Model: {loaded.Description}, eval mode");
            foreach (var line in Lines(result)) Console.WriteLine(line);
            if (result.Task == TaskKind.Classification) PrintConfusion(result, loaded.Card.ClassNames);
            return 0;
        });
        return command;
    }

    /// <summary>The data an evaluation runs on: the given path, else the test split of the training data (and says so).</summary>
    private static (Dataset Test, string Description) EvaluationData(CheckpointModel loaded, string? path)
    {
        var card = loaded.Card;
        Dataset test;
        string description;
        if (path is null)
        {
            var choice = loaded.Settings?.Data ?? new DataChoice(null, null, DataChoice.DefaultValFraction, TaskKind.Classification, null, null, null, 1);
            var data = choice.Load();
            (test, description) = (data.Test, $"{data.Description} (the data the model was trained on)");
        }
        else
        {
            var choice = (loaded.Settings?.Data ?? new DataChoice(path, null, DataChoice.DefaultValFraction, card.Task, null, null, null, 1)) with { Data = path, Test = null };
            (test, description) = (choice.LoadWhole(card), $"{path}: {choice.Summary(card)}");
        }
        int[] shape = loaded.Layout == InputLayout.Flattened ? [test.FeatureCount] : test.SampleShape.ToArray();
        if (!shape.SequenceEqual(card.InputShape))
            throw new UsageException($"the model takes inputs of {string.Join('x', card.InputShape)}, but {test.Name} has samples of {test.ShapeString}.");
        return (test, description);
    }

    /// <summary>The evaluation's metrics as <c>name value</c> lines.</summary>
    public static IEnumerable<string> Lines(EvaluationResult r) => r.Task == TaskKind.Classification
        ? [F($"accuracy {100 * r.Accuracy:F2} % ({(long)Math.Round(r.Accuracy * r.Count)}/{r.Count})"), F($"loss {r.Loss:F4}")]
        : [F($"rmse {r.Rmse:G6}"), F($"r2 {r.R2:F4}"), F($"loss {r.Loss:G6}"), F($"count {r.Count}")];

    /// <summary>One line: test accuracy and loss, or RMSE and R^2.</summary>
    public static string Summary(EvaluationResult r) => r.Task == TaskKind.Classification
        ? F($"test accuracy {r.Accuracy:P2}, test loss {r.Loss:F4}")
        : F($"test RMSE {r.Rmse:G6}, test R^2 {r.R2:F4}");

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static void PrintConfusion(EvaluationResult result, IReadOnlyList<string> names)
    {
        int classes = result.Confusion.GetLength(0);
        var table = new Table { Title = new TableTitle("Confusion matrix (rows: true class, columns: predicted)") };
        table.AddColumn("true \\ pred");
        for (int j = 0; j < classes; j++) table.AddColumn(new TableColumn(Markup.Escape(names[j])).RightAligned());
        for (int i = 0; i < classes; i++)
            table.AddRow([Markup.Escape(names[i]), .. Enumerable.Range(0, classes).Select(j => result.Confusion[i, j].ToString(CultureInfo.InvariantCulture))]);
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) }).Write(table);
    }
}
