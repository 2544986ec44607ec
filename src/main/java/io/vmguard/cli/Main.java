package io.vmguard.cli;

import io.vmguard.api.Version;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "vmguard", description = "A secure virtual machine monitor.", mixinStandardHelpOptions = true,
        version = "vmguard " + Version.NUMBER, subcommands = {RunCommand.class, ServeCommand.class,
        ClientCommands.Status.class, ClientCommands.Pause.class, ClientCommands.Resume.class,
        ClientCommands.Snapshot.class, ClientCommands.Restore.class, ClientCommands.Events.class, VmiCommands.class,
        ScanCommand.class, SchedSampleCommand.class, InterferenceReportCommand.class})
public final class Main implements Runnable {
    /** Bad usage: unknown options, values that do not parse. */
    public static final int EXIT_USAGE = 2;
    /** The VMM could not do what was asked (missing file, engine unavailable, corrupt kernel). */
    public static final int EXIT_FAILURE = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (try 'vmguard run --help')");
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit status; errors are printed as one line on stderr. */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setParameterExceptionHandler((error, arguments) -> {
            String command = error.getCommandLine().getCommandName();
            System.err.println("vmguard: " + error.getMessage() + " (try 'vmguard "
                    + ("vmguard".equals(command) ? "" : command + " ") + "--help')");
            return EXIT_USAGE;
        });
        cli.setExecutionExceptionHandler((error, commandLine, parseResult) -> {
            if (error instanceof CliException) {
                System.err.println("vmguard: " + error.getMessage());
                return EXIT_FAILURE;
            }
            throw error;
        });
        return cli.execute(args);
    }
}
