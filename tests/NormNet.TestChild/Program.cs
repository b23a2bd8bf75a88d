using NormNet.Serialization;

// Usage: NormNet.TestChild save-loop PATH MEGABYTES
// Saves generation 1, 2, 3, ... to PATH forever (each a tensor filled with the generation number and the
// generation in the metadata), printing "writing N" just before the atomic file write starts and "saved N"
// after it completes, until killed.
if (args.Length != 3 || args[0] != "save-loop")
{
    Console.Error.WriteLine("usage: NormNet.TestChild save-loop PATH MEGABYTES");
    return 2;
}
string path = args[1];
int floats = int.Parse(args[2]) * 1024 * 1024 / 4;
var values = new float[floats];
for (long generation = 1; ; generation++)
{
    Array.Fill(values, generation);
    byte[] bytes = SafeTensors.Serialize([SafeTensorsEntry.FromFloat32("weight", values, [floats])],
        new Dictionary<string, string> { ["generation"] = generation.ToString() });
    Console.WriteLine($"writing {generation}");
    AtomicFile.WriteAllBytes(path, bytes);
    Console.WriteLine($"saved {generation}");
}
