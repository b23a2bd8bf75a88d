using System.CommandLine;
using System.Globalization;
using NormNet.Deployment;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet export onnx MODEL --out model.onnx</c>: the eval-mode network as an ONNX model, its input shape taken
/// from the model's description and its preprocessing and class names written into the ONNX metadata.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("model") { Description = "A checkpoint.safetensors or model.safetensors written by normnet train (or a PyTorch state_dict with --arch and --bn)." };
        var outPath = new Option<string>("--out") { Description = "The .onnx file to write.", Required = true };
        var fold = new Option<bool>("--fold") { Description = "Fold each batch norm into the Linear/Conv2d before it (no BatchNormalization nodes)." };
        var arch = new Option<string?>("--arch") { Description = "For a bare state_dict: mlp-sigmoid, cnn or resnet (Fashion-MNIST's 28x28 images)." };
        arch.AcceptOnlyFromAmong("mlp-sigmoid", "cnn", "resnet");
        var bn = new Option<string?>("--bn") { Description = "For a bare state_dict: on or off." };
        bn.AcceptOnlyFromAmong("on", "off");
        var onnx = new Command("onnx", "Export a model to ONNX (opset 15, input \"input\" (N, ...the model's input shape), output \"output\"); " +
                                       "the metadata says how to preprocess the input (normnet.preprocessing) and names the classes (normnet.class_names).")
        {
            checkpoint, outPath, fold, arch, bn,
        };
        onnx.SetAction(r =>
        {
            var loaded = CheckpointModel.Load(r.GetValue(checkpoint)!, r.GetValue(arch), r.GetValue(bn));
            loaded.Model.Eval();
            string output = r.GetValue(outPath)!;
            OnnxExporter.Export(loaded.Model, loaded.Card.InputShape, output, r.GetValue(fold), Metadata(loaded.Card));
            Console.WriteLine($"Wrote {output}: {OnnxModelInfo.Read(output)}");
            Console.WriteLine($"Input: (N, {string.Join(", ", loaded.Card.InputShape)}), {Preprocessing(loaded.Card)}");
            return 0;
        });
        return new Command("export", "Export a trained model for deployment.") { onnx };
    }

    /// <summary>What the exported model's metadata_props say beyond the graph.</summary>
    public static Dictionary<string, string> Metadata(ModelCard card) => new()
    {
        ["normnet.task"] = card.Task.ToString().ToLowerInvariant(),
        ["normnet.class_names"] = string.Join('\n', card.ClassNames),
        ["normnet.target_names"] = string.Join('\n', card.TargetNames),
        ["normnet.preprocessing"] = Preprocessing(card),
        [ModelCard.MetadataKey] = card.ToJson(),
    };

    /// <summary>The preprocessing the exported model expects, in words.</summary>
    public static string Preprocessing(ModelCard card)
    {
        var steps = new List<string>();
        if (card.ScalePixels) steps.Add("pixels (0-255, planar C x H x W) divided by 255");
        if (card.Mean is not null) steps.Add($"then (x - mean[f]) / std[f] per feature with the {card.Mean.Length.ToString(CultureInfo.InvariantCulture)} means and stds in {ModelCard.MetadataKey}");
        return steps.Count == 0 ? "features as they are" : string.Join(", ", steps);
    }
}
