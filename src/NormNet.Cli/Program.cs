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
        public static RootCommand Build()
        {
            var root = new RootCommand("NormNet: train, evaluate and export networks with batch normalization, and reproduce the BN paper's claims.");
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
                string message = string.Join(' ', parse.Errors[0].Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()));
                error.WriteLine($"normnet: {message} (see 'normnet {string.Join(' ', CommandPath(parse))} --help')");
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

        private static IEnumerable<string> CommandPath(ParseResult parse)
        {
            var names = new List<string>();
            for (var r = parse.CommandResult; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
                names.Insert(0, r.Command.Name);
            return names;
        }
    }
}
