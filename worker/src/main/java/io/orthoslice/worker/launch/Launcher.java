package io.orthoslice.worker.launch;

import io.orthoslice.common.metrics.MetricsPorts;
import io.orthoslice.common.wire.Protocol;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Writer;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.TimeUnit;

/**
 * Starts a coordinator and N workers as child JVMs on this machine, shows the coordinator's round
 * lines as the combined progress view, writes each child's output to its own log in the run
 * directory, and stops every child when the run ends or the launcher is stopped (Ctrl-C).
 *
 * <p>Over 300 lines because it starts and supervises the coordinator and every worker, whose restarts and stop
 * share its state.
 */
public final class Launcher {

  /** The coordinator's main class; found on this JVM's class path or in -Dorthoslice.coordinator.jar. */
  static final String COORDINATOR_MAIN = Protocol.COORDINATOR_MAIN;
  static final String WORKER_MAIN = "io.orthoslice.worker.cli.OrthosliceCli";
  /** The coordinator that hosts worker-0 ({@code io.orthoslice.worker.cli.HostingCoordinator}). */
  static final String HOSTING_MAIN = "io.orthoslice.worker.cli.HostingCoordinator";

  /** How the run ended: the coordinator's exit status and the progress lines shown. */
  public record Result(int exitCode, List<String> progress, Path runDir, List<Integer> metricsPorts) {}

  private final LaunchConfig config;
  private final PrintStream out;
  private final List<Process> children = new ArrayList<>();
  /** Why the launcher ended the run itself (a worker that kept failing); null while it has not. */
  private final AtomicReference<String> failure = new AtomicReference<>();
  private volatile boolean stopping;
  /** The coordinator process now (a killed one is started again with --resume). */
  private final AtomicReference<Process> coordinatorNow = new AtomicReference<>();

  /** How many times a failed worker process is started again before the run stops. */
  public static final int RESTARTS = 2;

  public Launcher(LaunchConfig config, PrintStream out) {
    this.config = config;
    this.out = out;
  }

  public Result run() throws IOException, InterruptedException {
    Files.createDirectories(config.runDir());
    int port = freePort();
    String token = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
    Thread stopper = new Thread(this::stopAll, "launcher-stop");
    Runtime.getRuntime().addShutdownHook(stopper);
    List<String> progress = new ArrayList<>();
    List<Integer> metricsPorts = metricsPorts();
    try {
      List<String> coordArgs = new ArrayList<>(List.of("--port", Integer.toString(port), "--workers",
          Integer.toString(config.workers()), "--output", config.runDir().resolve("coordinator").toString(),
          MetricsPorts.FLAG, Integer.toString(metricsPorts.isEmpty() ? MetricsPorts.OFF : metricsPorts.get(0))));
      coordArgs.addAll(coordinatorDevice(config.gpus(), config.coordinatorArgs()));
      coordArgs.addAll(config.coordinatorArgs());
      Process coordinator = start(coordinatorCommand(coordArgs, port, metricsPorts), token, null, false);
      coordinatorNow.set(coordinator);
      Thread view = progressView(coordinator, config.runDir().resolve("coordinator.log"), progress, false);
      for (int i = config.hostWorker() ? 1 : 0; i < config.workers(); i++) {
        List<String> w = new ArrayList<>(javaCommand(WORKER_MAIN));
        w.addAll(workerArgs(i, port, metricsPorts));
        supervise(i, w, token, 0);
      }
      print("launched a coordinator on port " + port + " and " + config.workers() + " workers"
          + (config.hostWorker() ? " (worker-0 in the coordinator's process)" : "") + "; logs in " + config.runDir());
      if (!metricsPorts.isEmpty()) {
        print("metrics: coordinator http://localhost:" + metricsPorts.get(0) + MetricsPorts.METRICS_PATH
            + ", workers on ports " + metricsPorts.subList(1, metricsPorts.size()));
      }
      int code = coordinator.waitFor();
      // A coordinator killed (SIGKILL, a crash of the JVM) is started again on the same port with --resume:
      // it continues from its last checkpoint and the workers rejoin by themselves. A run that stopped
      // for a reason of its own (status 1, 2) or that the user stopped is not.
      for (int again = 1; killed(code) && !stopping && again <= RESTARTS; again++) {
        view.join(TimeUnit.SECONDS.toMillis(5));
        print("coordinator exited with status " + code + " (killed); starting it again with --resume (" + again
            + " of " + RESTARTS + ")");
        if (!coordArgs.contains("--resume")) {
          coordArgs.add("--resume");
        }
        coordinator = start(coordinatorCommand(coordArgs, port, metricsPorts), token, null, false);
        coordinatorNow.set(coordinator);
        view = progressView(coordinator, config.runDir().resolve("coordinator.log"), progress, true);
        code = coordinator.waitFor();
      }
      view.join(TimeUnit.SECONDS.toMillis(10));
      // After a finished run the workers leave on their own; after a failed one they would only
      // keep reconnecting, so they are stopped at once (in finally).
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      List<Process> started;
      synchronized (children) { // a restart may still be adding to it
        started = new ArrayList<>(children);
      }
      for (Process p : code == 0 ? started : List.<Process>of()) {
        p.waitFor(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
      String gaveUp = failure.get();
      if (gaveUp != null) {
        print("error: " + gaveUp);
        return new Result(code == 0 ? 1 : code, List.copyOf(progress), config.runDir(), metricsPorts);
      }
      if (code != 0) {
        print("coordinator exited with status " + code + "; see " + config.runDir().resolve("coordinator.log"));
      }
      return new Result(code, List.copyOf(progress), config.runDir(), metricsPorts);
    } finally {
      stopAll();
      try {
        Runtime.getRuntime().removeShutdownHook(stopper);
      } catch (IllegalStateException e) {
        // the JVM is already shutting down; the hook runs stopAll itself
      }
    }
  }

  /**
   * The coordinator's command: its own JVM, or with {@link LaunchConfig#hostWorker} one that also runs
   * worker-0 ({@code HostingCoordinator}: the coordinator's and the worker's class paths, the
   * coordinator's arguments, {@code --}, the worker's).
   */
  private List<String> coordinatorCommand(List<String> coordArgs, int port, List<Integer> metricsPorts) {
    if (!config.hostWorker()) {
      List<String> c = new ArrayList<>(javaCommand(COORDINATOR_MAIN));
      c.addAll(coordArgs);
      return c;
    }
    List<String> c = new ArrayList<>();
    c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    c.addAll(config.jvmArgs());
    String own = System.getProperty("java.class.path");
    String coordinator = coordinatorClassPath();
    c.addAll(List.of("-cp", coordinator.equals(own) ? own : own + java.io.File.pathSeparator + coordinator,
        HOSTING_MAIN));
    c.addAll(coordArgs);
    c.add("--");
    c.addAll(workerArgs(0, port, metricsPorts));
    return c;
  }

  /** Worker {@code i}'s command line after its main class. */
  private List<String> workerArgs(int i, int port, List<Integer> metricsPorts) {
    List<String> w = new ArrayList<>(List.of("worker", "--coordinator", "localhost:" + port, "--name", "worker-" + i,
        MetricsPorts.FLAG, Integer.toString(metricsPorts.isEmpty() ? MetricsPorts.OFF : metricsPorts.get(i + 1))));
    if (!config.gpus().isEmpty()) {
      w.addAll(List.of("--device", "gpu:" + config.gpus().get(i)));
    }
    w.addAll(config.workerArgs());
    return w;
  }

  /**
   * Starts worker {@code index} and, as a supervisor would, starts it again when it exits with an error
   * while the run goes on (the coordinator drops the lost slot and lets the new process join a later
   * round), up to {@link #RESTARTS} times. A worker that fails every time (a heap too small for the
   * model, a bad argument) ends the run: the coordinator is stopped (it checkpoints on SIGTERM) rather
   * than left waiting for workers that will not come.
   */
  private void supervise(int index, List<String> command, String token, int restarts) throws IOException {
    Path log = config.runDir().resolve("worker-" + index + ".log");
    Process p = start(command, token, log, restarts > 0);
    p.onExit().thenAccept(done -> {
      Process coordinator = coordinatorNow.get();
      if (done.exitValue() == 0 || !coordinator.isAlive() || stopping) {
        return;
      }
      String why = "worker-" + index + " exited with status " + done.exitValue() + lastError(log).map(e -> " (" + e + ")")
          .orElse("") + "; see " + log;
      if (restarts < RESTARTS) {
        print(why + "; starting it again (" + (restarts + 1) + " of " + RESTARTS + ")");
        try {
          supervise(index, command, token, restarts + 1);
          return;
        } catch (IOException e) {
          why += "; it could not be started again: " + e.getMessage();
        }
      } else {
        why += "; it failed " + (RESTARTS + 1) + " times, so the run stops (the coordinator keeps its last checkpoint)";
      }
      if (failure.compareAndSet(null, why)) {
        coordinator.destroy();
      }
    });
  }

  /** The coordinator process now, if one has started (what a supervisor or a test watches). */
  Optional<ProcessHandle> coordinator() {
    return Optional.ofNullable(coordinatorNow.get()).map(Process::toHandle);
  }

  /** Whether a coordinator's exit status says it was killed by a signal other than the launcher's own stop. */
  static boolean killed(int status) {
    return status > 128 && status != 128 + 15; // 143: SIGTERM, a stop someone asked for
  }

  /** The last line of a worker's log that names an error, shortened; empty when there is none. */
  static Optional<String> lastError(Path log) {
    try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
      return lines.map(String::strip)
          .filter(l -> l.startsWith("error") || l.contains("Error:") || l.contains("Exception:")
              || l.endsWith("Error") || l.endsWith("Exception"))
          .reduce((a, b) -> b)
          .map(l -> l.length() > 200 ? l.substring(0, 200) + "..." : l);
    } catch (IOException | java.io.UncheckedIOException e) {
      return Optional.empty();
    }
  }

  /** The coordinator's metrics port then each worker's; empty when metrics are off. */
  private List<Integer> metricsPorts() throws IOException {
    List<Integer> ports = new ArrayList<>();
    if (config.metricsPort() == MetricsPorts.OFF) {
      return ports;
    }
    for (int i = 0; i <= config.workers(); i++) {
      ports.add(config.metricsPort() == 0 ? freePort() : config.metricsPort() + i);
    }
    return List.copyOf(ports);
  }

  /** Copies the coordinator's output to its log and shows the lines a person follows a run by. */
  private Thread progressView(Process coordinator, Path log, List<String> progress, boolean append) {
    Thread t = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(coordinator.getInputStream(),
              StandardCharsets.UTF_8));
          Writer w = append ? Files.newBufferedWriter(log, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
              java.nio.file.StandardOpenOption.APPEND) : Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
        String line;
        while ((line = in.readLine()) != null) {
          w.write(line);
          w.write('\n');
          w.flush();
          if (line.startsWith("round ") || line.startsWith("coordinator listening") || line.startsWith("done:")
              || line.startsWith("--resume:") || line.startsWith("the run in ")
              || line.startsWith("final validation perplexity") || line.startsWith("error")) {
            synchronized (progress) {
              progress.add(line);
            }
            print(line);
          }
        }
      } catch (IOException e) {
        print("progress view stopped: " + e.getMessage());
      }
    }, "launcher-progress");
    t.setDaemon(true);
    t.start();
    return t;
  }

  private Process start(List<String> command, String token, Path log, boolean append) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    if (log != null) {
      pb.redirectOutput(append ? ProcessBuilder.Redirect.appendTo(log.toFile()) : ProcessBuilder.Redirect.to(log.toFile()));
    }
    pb.environment().put(Protocol.TOKEN_ENV, token); // not on the command line, where ps shows it
    pb.environment().put("OMP_NUM_THREADS", Integer.toString(config.threadsPerProcess()));
    synchronized (children) {
      Process p = pb.start();
      children.add(p);
      return p;
    }
  }

  /**
   * The coordinator's --device: the first worker's GPU (its merge and validation share that card), unless
   * the coordinator's own arguments name one ({@code --coordinator-arg=--device=gpu:1} gives it a card of
   * its own, {@code =cpu} keeps it off the GPUs); none without GPUs.
   */
  static List<String> coordinatorDevice(List<Integer> gpus, List<String> coordinatorArgs) {
    boolean named = coordinatorArgs.stream().anyMatch(a -> a.equals("--device") || a.startsWith("--device="));
    return gpus.isEmpty() || named ? List.of() : List.of("--device", "gpu:" + gpus.get(0));
  }

  private List<String> javaCommand(String mainClass) {
    List<String> c = new ArrayList<>();
    c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    c.addAll(config.jvmArgs());
    c.add("-cp");
    c.add(mainClass.equals(COORDINATOR_MAIN) ? coordinatorClassPath() : System.getProperty("java.class.path"));
    c.add(mainClass);
    return c;
  }

  /**
   * This JVM's class path when the coordinator is on it (tests, an IDE); else the coordinator jar
   * alone, whose manifest names its libraries: adding it to the worker's class path would put the
   * shared libraries (and common's logback.xml) on it twice.
   */
  public static String coordinatorClassPath() {
    if (onClassPath(COORDINATOR_MAIN)) {
      return System.getProperty("java.class.path");
    }
    String coordinatorJar = System.getProperty("orthoslice.coordinator.jar");
    if (coordinatorJar == null || !Files.isRegularFile(Path.of(coordinatorJar))) {
      throw new IllegalArgumentException("the coordinator is not on the class path; pass"
          + " -Dorthoslice.coordinator.jar=coordinator/target/orthoslice-coordinator.jar (the ./orthoslice script"
          + " does) or build it with 'mvn -q -DskipTests package'");
    }
    return coordinatorJar;
  }

  private static boolean onClassPath(String name) {
    try {
      Class.forName(name, false, Launcher.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException e) {
      return false;
    }
  }

  /** SIGTERM to every child (workers then leave), then SIGKILL to any still alive after 10 s. */
  void stopAll() {
    stopping = true;
    List<Process> all;
    synchronized (children) {
      all = new ArrayList<>(children);
    }
    all.stream().filter(Process::isAlive).forEach(Process::destroy);
    for (Process p : all) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private void print(String line) {
    synchronized (out) {
      out.println(line);
      out.flush();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
