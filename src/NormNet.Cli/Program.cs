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
            try
            {
                return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            }
            catch (UsageException e)
            {
                error.WriteLine($"normnet: {e.Message}");
                return 2;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                error.WriteLine($"normnet: {e.GetType().Name.Replace("Exception", "")} error: {e.Message}");
                return 1;
            }
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
