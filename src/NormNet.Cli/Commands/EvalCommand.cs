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
        var command = new Command("eval", "Evaluate a checkpoint in eval mode: accuracy and confusion matrix on the test split.") { checkpoint, arch, bn, data, threads };
        command.SetAction(r =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            string path = r.GetValue(checkpoint)!;
            if (!File.Exists(path)) throw new UsageException($"checkpoint not found: {path}");
            SafeTensorsFile file;
            try { file = SafeTensors.Load(path); }
            catch (InvalidDataException e) { throw new UsageException(e.Message); }
            string name;
            bool batchNorm;
            TrainSettings? settings = file.Metadata.ContainsKey(TrainSettings.MetadataKey) ? TrainSettings.FromMetadata(file.Metadata, path) : null;
            if (settings is not null)
            {
                if (r.GetValue(arch) is { } a && a != settings.Arch) throw new UsageException($"{path} is a checkpoint of {settings.Arch}, not {a}.");
                if (r.GetValue(bn) is { } b && (b == "on") != settings.BatchNorm)
                    throw new UsageException($"{path} was trained with --bn {(settings.BatchNorm ? "on" : "off")}, not {b}.");
                (name, batchNorm) = (settings.Arch, settings.BatchNorm);
            }
            else
            {
                name = r.GetValue(arch) ?? throw new UsageException($"{path} has no NormNet training settings: pass --arch and --bn.");
                batchNorm = r.GetValue(bn) != "off";
            }
            var model = Architectures.Create(name, batchNorm, new Rng(0));
            try { ModelState.Load(model, file, "", strict: false, path); }
            catch (InvalidDataException e) { throw new UsageException($"{e.Message} ({name}, BN {(batchNorm ? "on" : "off")})"); }
            var dataset = CommonOptions.LoadData(r.GetValue(data));
            var result = Trainer.Evaluate(model, new DataLoader(dataset.Test, 1000, shuffle: false, layout: Architectures.LayoutOf(name)));
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
