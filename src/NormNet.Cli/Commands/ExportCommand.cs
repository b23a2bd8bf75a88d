using System.CommandLine;
using NormNet.Deployment;
using NormNet.Models;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet export onnx CHECKPOINT --out model.onnx</c>: the eval-mode network as an ONNX model.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A checkpoint.safetensors or model.safetensors written by normnet train (or a PyTorch state_dict with --arch and --bn)." };
        var outPath = new Option<string>("--out") { Description = "The .onnx file to write.", Required = true };
        var fold = new Option<bool>("--fold") { Description = "Fold each batch norm into the Linear/Conv2d before it (no BatchNormalization nodes)." };
        var arch = new Option<string?>("--arch") { Description = "Architecture, for files without NormNet settings." };
        arch.AcceptOnlyFromAmong(Architectures.Names);
        var bn = new Option<string?>("--bn") { Description = "on or off, for files without NormNet settings." };
        bn.AcceptOnlyFromAmong("on", "off");
        var onnx = new Command("onnx", "Export a checkpoint to ONNX (opset 15, input \"input\" with a symbolic batch dimension, output \"output\"), checked by ONNX Runtime in the tests.")
        {
            checkpoint, outPath, fold, arch, bn,
        };
        onnx.SetAction(r =>
        {
            var (model, name, path) = CheckpointModel.Load(r.GetValue(checkpoint)!, r.GetValue(arch), r.GetValue(bn));
            model.Eval();
            string output = r.GetValue(outPath)!;
            OnnxExporter.Export(model, OnnxExporter.InputShapeOf(name), output, r.GetValue(fold));
            Console.WriteLine($"Wrote {output}: {OnnxModelInfo.Read(output)}");
            return 0;
        });
        return new Command("export", "Export a trained model for deployment.") { onnx };
    }
}
