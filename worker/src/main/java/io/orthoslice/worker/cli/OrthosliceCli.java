package io.orthoslice.worker.cli;

import io.orthoslice.common.config.FileErrors;
import io.orthoslice.common.logging.LogIdentity;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.worker.CoordinatorRefusedException;
import io.orthoslice.worker.CoordinatorUnreachableException;

import java.io.PrintWriter;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code orthoslice} command. Bad arguments or configuration print one line naming the problem
 * and what is allowed, and exit with status 2; no stack trace reaches the user.
 */
@Command(
    name = "orthoslice",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Low-rank, low-communication training of Llama models.",
    subcommands = {
      TrainCommand.class,
      PrepareDataCommand.class,
      EvalCommand.class,
      BenchCommand.class,
      CompareCommand.class,
      WorkerCommand.class,
      CoordinatorCommand.class,
      LaunchCommand.class,
      SweepCommand.class,
      ReportCommand.class,
      CommandLine.HelpCommand.class
    })
public final class OrthosliceCli implements Runnable {

  public static final int EXIT_USAGE = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: train, prepare-data, eval, bench, compare, worker, coordinator, launch, sweep, report");
  }

  public static void main(String[] args) {
    // Every log line names the process: the subcommand (the worker refines it to its name and id).
    LogIdentity.set(args.length > 0 && !args[0].startsWith("-") ? args[0] : "orthoslice", null);
    System.exit(execute(args));
  }

  /** Runs the CLI and returns the exit status (tests call this instead of main). */
  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  /** A coordinator's refusal of this worker (a wrong token, a bad request) as one line. */
  static Optional<String> refusal(Exception ex) {
    if (!(ex instanceof CoordinatorRefusedException e)) {
      return Optional.empty();
    }
    if (e.tokenRefused()) {
      return Optional.of("the coordinator refused this worker's run token (" + e.getMessage() + "); give the worker"
          + " the coordinator's token with --token or $" + Protocol.TOKEN_ENV);
    }
    return Optional.of("the coordinator refused a request (" + e.getMessage() + ")");
  }

  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new OrthosliceCli());
    // Everything after 'coordinator' is the coordinator's, its options and --help included.
    cl.getSubcommands().get("coordinator").setUnmatchedOptionsArePositionalParams(true);
    cl.setParameterExceptionHandler((ex, a) -> {
      PrintWriter err = ex.getCommandLine().getErr();
      err.println("error: " + ex.getMessage());
      err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for the options.");
      return EXIT_USAGE;
    });
    cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      if (ex instanceof IllegalArgumentException) {
        commandLine.getErr().println("error: " + ex.getMessage());
        return EXIT_USAGE;
      }
      if (ex instanceof CoordinatorUnreachableException) {
        commandLine.getErr().println("error: " + ex.getMessage());
        return 1;
      }
      Optional<String> line = FileErrors.line(ex).or(() -> refusal(ex));
      if (line.isPresent()) {
        commandLine.getErr().println("error: " + line.get());
        return 1;
      }
      throw ex;
    });
    return cl;
  }
}
