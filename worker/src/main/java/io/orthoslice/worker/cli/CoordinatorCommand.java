package io.orthoslice.worker.cli;

import io.orthoslice.common.wire.Protocol;
import io.orthoslice.worker.launch.Launcher;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code orthoslice coordinator ...}: the coordinator, in a JVM of its own with this process's
 * standard streams (the coordinator's classes are not on the worker's class path: the two roles
 * share only the protocol and common). Every argument, --help included, is the coordinator's.
 * The ./orthoslice script starts the coordinator's jar directly; this entry serves java -jar
 * orthoslice-worker.jar and lists the command in --help.
 */
@Command(name = "coordinator", description = "Run the coordinator of a distributed run (its options:"
    + " orthoslice coordinator --help).")
public final class CoordinatorCommand implements Callable<Integer> {

  @Parameters(arity = "0..*", paramLabel = "ARG", description = "The coordinator's arguments.")
  List<String> args = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(LaunchCommand.childJvm());
    cmd.addAll(List.of("-cp", Launcher.coordinatorClassPath(), Protocol.COORDINATOR_MAIN));
    cmd.addAll(args);
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    Thread stop = new Thread(p::destroy); // SIGTERM reaches the coordinator too (it checkpoints and drains)
    Runtime.getRuntime().addShutdownHook(stop);
    try {
      return p.waitFor();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(stop);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs
      }
    }
  }
}
