using NormNet.Layers;
using NormNet.Models;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary>Rebuilds a built-in architecture from a checkpoint file: from its NormNet training settings, or from
/// --arch/--bn for a bare state_dict. Mismatches are usage errors naming what differs.</summary>
internal static class CheckpointModel
{
    /// <param name="validate">false (--allow-invalid) loads non-finite weights and a wrong checksum, to inspect a broken model.</param>
    public static (Sequential Model, string Arch, bool BatchNorm) Load(string path, string? arch, string? bn, bool validate = true)
    {
        if (!File.Exists(path)) throw new UsageException($"checkpoint not found: {path}");
        SafeTensorsFile file;
        try { file = SafeTensors.Load(path, verifyChecksum: validate); }
        catch (InvalidDataException e) { throw new UsageException(e.Message); }
        string name;
        bool batchNorm;
        if (file.Metadata.ContainsKey(TrainSettings.MetadataKey))
        {
            var settings = TrainSettings.FromMetadata(file.Metadata, path);
            if (arch is not null && arch != settings.Arch) throw new UsageException($"{path} is a checkpoint of {settings.Arch}, not {arch}.");
            if (bn is not null && (bn == "on") != settings.BatchNorm)
                throw new UsageException($"{path} was trained with --bn {(settings.BatchNorm ? "on" : "off")}, not {bn}.");
            (name, batchNorm) = (settings.Arch, settings.BatchNorm);
        }
        else
        {
            name = arch ?? throw new UsageException($"{path} has no NormNet training settings: pass --arch and --bn.");
            batchNorm = bn != "off";
        }
        var model = Architectures.Create(name, batchNorm, new Rng(0));
        try { ModelState.Load(model, file, "", strict: false, path, validate); }
        catch (InvalidDataException e) { throw new UsageException($"{e.Message} ({name}, BN {(batchNorm ? "on" : "off")})"); }
        return (model, name, batchNorm);
    }
}
