package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chaos for the coordinator: a real coordinator and 2 worker JVMs; the coordinator gets SIGKILL twice
 * at moments drawn from a fixed seed (while round 2 trains, and while round 4 trains) and is started
 * again with --resume each time. Nobody touches the workers: they join the new coordinator by
 * themselves, and the run ends with the same weights, bit for bit, as the same run undisturbed.
 */
class CoordinatorCrashMultiProcessTest {

  @Test
  @Timeout(300)
  void killedCoordinatorResumesAndTheWorkersRejoinByThemselves(@TempDir Path dir) throws Exception {
    String calm = finalWeights(dir.resolve("calm"), new int[0], new Random(1));
    String chaos = finalWeights(dir.resolve("chaos"), new int[] {2, 4}, new Random(1));
    assertEquals(calm, chaos, "the disturbed run's final weights differ from the undisturbed run's");
  }

  /** Runs the job, killing the coordinator during each round in {@code killIn}; returns the final weights' SHA-256. */
  private static String finalWeights(Path dir, int[] killIn, Random moments) throws Exception {
    int port = freePort();
    Files.createDirectories(dir);
    String logback = LOGBACK;
    List<String> coordinatorArgs = List.of(Launcher.COORDINATOR_MAIN, "--port", Integer.toString(port), "--workers",
        "2", "--rounds", "6", "--local-steps", "30", "--rank", "8", "--preset", "tiny", "--seq-len", "32",
        "--batch-size", "4", "--eval-batches", "1", "--metrics-port", "-1", "--checkpoint-every", "1",
        "--output", dir.resolve("coordinator").toString());
    List<Process> all = new ArrayList<>();
    try {
      List<String> lines = new CopyOnWriteArrayList<>();
      Process coordinator = start(all, coordinatorArgs, logback, lines);
      List<Process> workers = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        workers.add(start(all, List.of(Launcher.WORKER_MAIN, "worker", "--coordinator", "localhost:" + port,
            "--name", "worker-" + i, "--metrics-port", "-1"), logback, dir.resolve("worker-" + i + ".log")));
      }
      for (int round : killIn) {
        awaitLine(lines, coordinator, "round " + round + " open: 2 participants");
        Thread.sleep(moments.nextInt(300)); // somewhere in the round's local steps
        assertTrue(coordinator.isAlive() && lines.stream().noneMatch(l -> l.startsWith("done:")),
            "the run ended before the kill in round " + round + ":\n" + String.join("\n", lines));
        coordinator.destroyForcibly(); // SIGKILL
        assertTrue(coordinator.waitFor(30, TimeUnit.SECONDS));
        lines = new CopyOnWriteArrayList<>();
        List<String> resumed = new ArrayList<>(coordinatorArgs);
        resumed.add("--resume");
        coordinator = start(all, resumed, logback, lines);
      }
      assertTrue(coordinator.waitFor(200, TimeUnit.SECONDS), "the run did not finish:\n" + String.join("\n", lines));
      assertEquals(0, coordinator.exitValue(), String.join("\n", lines));
      for (int i = 0; i < 2; i++) {
        assertTrue(workers.get(i).waitFor(60, TimeUnit.SECONDS), "worker-" + i + " did not end");
        String log = Files.readString(dir.resolve("worker-" + i + ".log"));
        assertEquals(0, workers.get(i).exitValue(), log);
        assertEquals(killIn.length, log.lines().filter(l -> l.contains("Worker - joined again as")).count(), log);
      }
      Path last;
      try (Stream<Path> s = Files.list(dir.resolve("coordinator").resolve("checkpoints"))) {
        last = s.filter(Files::isDirectory).sorted().reduce((a, b) -> b).orElseThrow();
      }
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(Files.readAllBytes(last.resolve("model.safetensors"))));
    } finally {
      all.forEach(Process::destroyForcibly);
    }
  }

  /** The test logback configuration the child JVMs log with. */
  static final String LOGBACK = Launcher.class.getResource("/logback.xml").toString();

  /** A port free at the moment of asking (loopback tests: nobody else takes it in between). */
  static int freePort() throws java.io.IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static void awaitLine(List<String> lines, Process p, String text) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (lines.stream().noneMatch(l -> l.contains(text))) {
      assertTrue(System.nanoTime() < end && p.isAlive(), "never saw '" + text + "':\n" + String.join("\n", lines));
      Thread.sleep(20);
    }
  }

  /** A child JVM; its output goes to {@code log} or, line by line, into {@code lines}. */
  static Process start(List<Process> all, List<String> mainAndArgs, String logback, Object out)
      throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx640m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dlogback.configurationFile=" + logback,
        "-cp", System.getProperty("java.class.path")));
    cmd.addAll(mainAndArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    if (out instanceof Path log) {
      pb.redirectOutput(log.toFile());
    }
    pb.environment().put("ORTHOSLICE_TOKEN", "crash-test");
    pb.environment().put("OMP_NUM_THREADS", "1");
    Process p = pb.start();
    all.add(p);
    if (out instanceof List<?> l) {
      @SuppressWarnings("unchecked")
      List<String> lines = (List<String>) l;
      Thread reader = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          in.lines().forEach(lines::add);
        } catch (Exception e) {
          lines.add("reader failed: " + e);
        }
      });
      reader.setDaemon(true);
      reader.start();
    }
    return p;
  }
}
