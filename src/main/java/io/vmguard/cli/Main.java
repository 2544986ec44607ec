package io.vmguard.cli;

import io.vmguard.api.Version;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "vmguard", description = "A secure virtual machine monitor.", mixinStandardHelpOptions = true,
        version = "vmguard " + Version.NUMBER)
public final class Main implements Runnable {
    /** Bad usage: unknown options, values that do not parse. */
    public static final int EXIT_USAGE = 2;
    /** The VMM could not do what was asked (missing file, engine unavailable, corrupt kernel). */
    public static final int EXIT_FAILURE = 1;

    /** Every command, in the order the help lists them. */
    private static final List<Class<?>> COMMANDS = List.of(RunCommand.class, ServeCommand.class,
            ClientCommands.Status.class, ClientCommands.Pause.class, ClientCommands.Resume.class,
            ClientCommands.Snapshot.class, ClientCommands.Restore.class, ClientCommands.Events.class, VmiCommands.class,
            ScanCommand.class, SchedSampleCommand.class, InterferenceReportCommand.class);

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
        commandsFor(args).forEach(cli::addSubcommand);
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

    /**
     * The commands {@code args} can reach: the one it names first, or every command when it names none (help, a
     * typo, nothing), so that what the user sees is the same either way. Picocli builds a command's model from its
     * options' annotations, reflectively and in a cold JVM, which cost a boot about 0.2 s for the eleven commands
     * {@code run} does not use (docs/benchmarks.md, #session12-boot).
     */
    static List<Class<?>> commandsFor(String... args) {
        if (args.length > 0) {
            for (Class<?> command : COMMANDS) {
                if (command.getAnnotation(Command.class).name().equals(args[0])) {
                    return List.of(command);
                }
            }
        }
        return COMMANDS;
    }
}
