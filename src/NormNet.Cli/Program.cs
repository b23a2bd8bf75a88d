using System.CommandLine;
using NormNet.Cli;
using NormNet.Cli.Commands;

return Cli.Run(args);

namespace NormNet.Cli
{
    /// <summary>The <c>normnet</c> command: builds the command tree and maps failures to exit codes
    /// (0 ok, 1 failed, 2 bad usage), printing one line and no stack trace.</summary>
    internal static class Cli
    {
        /// <summary>The command's name in every usage line, whatever the executable is called (NormNet.Cli.dll under
        /// dotnet run, the bench's own dll, or the installed tool's shim).</summary>
        public const string Name = "normnet";

        /// <summary>The root command. A plain <see cref="Command"/> named <see cref="Name"/> with the help and version
        /// options a <see cref="RootCommand"/> would add: RootCommand takes its name from the executable's file name
        /// (NormNet.Cli) and cannot be renamed.</summary>
        public static Command Build()
        {
            var root = new Command(Name, "NormNet: train, evaluate and export networks with batch normalization, and reproduce the BN paper's claims.")
            {
                new System.CommandLine.Help.HelpOption(),
                new VersionOption(),
            };
            root.Subcommands.Add(TrainCommand.Create());
            root.Subcommands.Add(EvalCommand.Create());
            root.Subcommands.Add(ExperimentCommand.Create());
            root.Subcommands.Add(ExportCommand.Create());
            root.Subcommands.Add(PredictCommand.Create());
            return root;
        }

        public static int Run(string[] args, TextWriter? error = null)
        {
            error ??= Console.Error;
            var parse = Build().Parse(args);
            if (parse.Errors.Count > 0)
            {
                string message = string.Join(' ', FirstError(parse).Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()));
                error.WriteLine($"normnet: {message} (see '{string.Join(' ', CommandPath(parse))} --help')");
                return 2;
            }
            var output = Console.Out;
            Console.SetOut(new NormNet.Cli.Output.GuardedOutput(output));
            try
            {
                return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = Console.Out });
            }
            catch (QuietExitException e)
            {
                return e.Code;
            }
            catch (UsageException e)
            {
                return Report(error, e.Message, 2);
            }
            catch (CommandFailedException e)
            {
                return Report(error, e.Message, 1);
            }
            catch (OutOfMemoryException)
            {
                return Report(error, "out of memory (try a smaller --batch-size, or more memory)", 1);
            }
            catch (Exception e)
            {
                return Report(error, $"{e.GetType().Name.Replace("Exception", "")} error: {e.Message}", 1);
            }
            finally
            {
                Console.SetOut(output);
            }
        }

        /// <summary>Prints one line and returns the exit code; a failure to print it (stderr closed too) cannot
        /// change the code or turn into a crash.</summary>
        private static int Report(TextWriter error, string message, int code)
        {
            try { error.WriteLine($"normnet: {message}"); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { }
            return code;
        }

        /// <summary>The error to report: one that names a word the parser did not recognize, when there is one (for
        /// <c>normnet frobnicate</c> the first error is "Required command was not provided", which names nothing).</summary>
        private static System.CommandLine.Parsing.ParseError FirstError(ParseResult parse)
        {
            foreach (string token in parse.UnmatchedTokens)
                foreach (var e in parse.Errors)
                    if (e.Message.Contains($"'{token}'", StringComparison.Ordinal)) return e;
            return parse.Errors[0];
        }

        /// <summary>The names from the root to the command that was parsed, e.g. normnet export onnx.</summary>
        private static IEnumerable<string> CommandPath(ParseResult parse)
        {
            var names = new List<string>();
            for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
                names.Insert(0, r.Command.Name);
            return names;
        }
    }
}
