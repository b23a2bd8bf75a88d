using System.CommandLine;
using System.Globalization;
using NormNet.Data;
using NormNet.Models;
using NormNet.Serialization;
using NormNet.Training;
using Spectre.Console;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet eval</c>: evaluates a checkpoint on a data set's test split in eval mode.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A checkpoint.safetensors or model.safetensors written by normnet train (or a PyTorch state_dict with --arch and --bn)." };
        var arch = new Option<string?>("--arch") { Description = "Architecture, for files without NormNet settings (must match the file's when it has them)." };
        arch.AcceptOnlyFromAmong(Architectures.Names);
        var bn = new Option<string?>("--bn") { Description = "on or off, for files without NormNet settings." };
        bn.AcceptOnlyFromAmong("on", "off");
        var data = CommonOptions.Data();
        var threads = CommonOptions.Threads();
        var allowInvalid = new Option<bool>("--allow-invalid") { Description = "Load a checkpoint even with NaN/infinite weights, negative variances or a wrong checksum, to inspect a broken model." };
        var command = new Command("eval", "Evaluate a checkpoint in eval mode: accuracy and confusion matrix on the test split.") { checkpoint, arch, bn, data, threads, allowInvalid };
        command.SetAction(r =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            string path = r.GetValue(checkpoint)!;
            var (model, name, batchNorm) = CheckpointModel.Load(path, r.GetValue(arch), r.GetValue(bn), validate: !r.GetValue(allowInvalid));
            var dataset = CommonOptions.LoadData(r.GetValue(data));
            var result = Trainer.Evaluate(model, new DataLoader(dataset.Test, 1000, shuffle: false, layout: Architectures.LayoutOf(name)));
            if (!result.OutputsFinite)
                throw new CommandFailedException($"{path}: the model's outputs are not finite ({result.NonFiniteOutputs} of {result.Count} test images); there is no accuracy to report.");
            Print(result, dataset, name, batchNorm);
            return 0;
        });
        return command;
    }

    private static void Print(EvaluationResult result, ImageDataset dataset, string arch, bool batchNorm)
    {
        Console.WriteLine($"Data: {dataset.Description}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{arch} (BN {(batchNorm ? "on" : "off")}), eval mode: accuracy {result.Accuracy:P2} ({(int)Math.Round(result.Accuracy * result.Count)}/{result.Count}), loss {result.Loss:F4}"));
        int classes = result.Confusion.GetLength(0);
        var table = new Table { Title = new TableTitle("Confusion matrix (rows: true class, columns: predicted)") };
        table.AddColumn("true \\ pred");
        for (int j = 0; j < classes; j++) table.AddColumn(new TableColumn(j.ToString(CultureInfo.InvariantCulture)).RightAligned());
        for (int i = 0; i < classes; i++)
            table.AddRow([i.ToString(CultureInfo.InvariantCulture), .. Enumerable.Range(0, classes).Select(j => result.Confusion[i, j].ToString(CultureInfo.InvariantCulture))]);
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) }).Write(table);
    }
}
