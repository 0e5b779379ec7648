package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real coordinator and 3 worker JVMs; one worker gets SIGTERM while it trains round 2: it tells
 * the coordinator it leaves (no heartbeat time-out), round 2 merges the other two slots, and the
 * run ends with the remaining workers (--min-workers 2). The children log with the production
 * logback.xml, so this also checks that every line names its process, whatever thread wrote it.
 */
class SigtermLeaveMultiProcessTest {

  private static final Pattern LOG_LINE = Pattern.compile("^\\d{4}-\\d\\d-\\d\\dT\\S+ (TRACE|DEBUG|INFO|WARN|ERROR) .*");

  @Test
  @Timeout(240)
  void sigtermedWorkerLeavesAndTheRunFinishesWithoutIt(@TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    // A URL (file: or jar:), which logback.configurationFile takes as it is.
    String logback = Launcher.class.getResource("/logback.xml").toString();
    List<Process> all = new ArrayList<>();
    List<String> coordinatorLines = new CopyOnWriteArrayList<>();
    try {
      Process coordinator = start(all, List.of(Launcher.COORDINATOR_MAIN, "--port", Integer.toString(port),
          "--workers", "3", "--min-workers", "2", "--rounds", "3", "--local-steps", "12", "--rank", "8",
          "--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--eval-batches", "1", "--metrics-port", "-1",
          "--heartbeat-timeout", "120", "--round-timeout", "180", "--output", dir.resolve("coordinator").toString()),
          logback, null);
      Thread reader = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(coordinator.getInputStream(),
            StandardCharsets.UTF_8))) {
          in.lines().forEach(coordinatorLines::add);
        } catch (Exception e) {
          coordinatorLines.add("reader failed: " + e);
        }
      });
      reader.setDaemon(true);
      reader.start();
      List<Process> workers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        workers.add(start(all, List.of(Launcher.WORKER_MAIN, "worker", "--coordinator", "localhost:" + port,
            "--name", "worker-" + i, "--metrics-port", "-1"), logback, dir.resolve("worker-" + i + ".log")));
      }
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
      while (coordinatorLines.stream().noneMatch(l -> l.contains("round 2 open: 3 participants"))) {
        assertTrue(System.nanoTime() < end && coordinator.isAlive(), "round 2 never opened:\n" + text(coordinatorLines));
        Thread.sleep(20);
      }
      Process victim = workers.get(2);
      victim.destroy(); // SIGTERM
      assertTrue(victim.waitFor(30, TimeUnit.SECONDS), "worker-2 ignored SIGTERM");
      assertTrue(coordinator.waitFor(150, TimeUnit.SECONDS), "the run did not finish:\n" + text(coordinatorLines));
      reader.join(10_000);
      String out = text(coordinatorLines);
      assertEquals(0, coordinator.exitValue(), out);
      for (int i = 0; i < 2; i++) {
        assertTrue(workers.get(i).waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, workers.get(i).exitValue(), Files.readString(dir.resolve("worker-" + i + ".log")));
      }

      String victimLog = Files.readString(dir.resolve("worker-2.log"));
      String victimId = victimLog.lines().filter(l -> l.contains("joined as ")).findFirst()
          .map(l -> l.replaceAll(".*joined as (\\S+):.*", "$1")).orElseThrow(() -> new AssertionError(victimLog));
      assertTrue(out.contains("worker " + victimId + " left: terminated"), out);
      assertFalse(out.contains("missed its heartbeats"), out);
      // The leave came from the shutdown hook's thread, and names the worker like every other line.
      assertTrue(victimLog.lines().anyMatch(l -> l.contains("[worker " + victimId + "] Worker - leaving: terminated")),
          victimLog);

      JsonNode rounds = new ObjectMapper().readTree(dir.resolve("coordinator/summary.json").toFile())
          .get("round_results");
      assertEquals(3, rounds.size(), out);
      assertEquals("[0,1,2]", rounds.get(0).get("mergedSlots").toString(), out);
      assertEquals(3, rounds.get(1).get("participants").asInt(), out);
      assertEquals(2, rounds.get(1).get("mergedSlots").size(), out);
      assertEquals(2, rounds.get(2).get("participants").asInt(), out);
      assertEquals("[0,1]", rounds.get(2).get("mergedSlots").toString(), out);

      // Every log line of every process carries its role (and a worker its id), from any thread:
      // the coordinator logs joins and updates on gRPC threads and rounds on its driver thread.
      List<String> coordinatorLogLines = coordinatorLines.stream().filter(l -> LOG_LINE.matcher(l).matches()).toList();
      assertTrue(coordinatorLogLines.size() > 10, out);
      coordinatorLogLines.forEach(l -> assertTrue(l.contains(" [coordinator] "), l));
      for (int i = 0; i < 3; i++) {
        String log = Files.readString(dir.resolve("worker-" + i + ".log"));
        String name = "worker-" + i;
        List<String> lines = log.lines().filter(l -> LOG_LINE.matcher(l).matches()).toList();
        assertFalse(lines.isEmpty(), log);
        lines.forEach(l -> assertTrue(l.matches(".* \\[worker (" + name + "|w\\d+-" + name + ")\\] .*"), l));
      }
    } finally {
      all.forEach(Process::destroyForcibly);
    }
  }

  private static Process start(List<Process> all, List<String> mainAndArgs, String logback, Path log) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx640m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dlogback.configurationFile=" + logback,
        "-cp", System.getProperty("java.class.path")));
    cmd.addAll(mainAndArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    if (log != null) {
      pb.redirectOutput(log.toFile());
    }
    pb.environment().put("ORTHOSLICE_TOKEN", "multi-process-test");
    pb.environment().put("OMP_NUM_THREADS", "1");
    Process p = pb.start();
    all.add(p);
    return p;
  }

  private static String text(List<String> lines) {
    return String.join("\n", lines);
  }
}
