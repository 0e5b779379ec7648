package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code launch --host-worker}: worker-0 in the coordinator's JVM is the same run as with every worker in
 * a process of its own: the same slots merged and the same losses, to the bit.
 */
class LaunchHostWorkerMultiProcessTest {

  private static final List<String> RUN = List.of("--rounds", "2", "--local-steps", "4", "--mode", "orthogonal",
      "--rank", "8", "--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--lr", "3e-3", "--eval-batches", "2");
  private static final List<String> JVM = List.of("-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

  @Test
  @Timeout(240)
  void aHostedWorkerTrainsTheSameRunAsAWorkerProcess(@TempDir Path dir) throws Exception {
    JsonNode apart = launch(dir.resolve("apart"), false);
    JsonNode hosted = launch(dir.resolve("hosted"), true);
    assertFalse(Files.exists(dir.resolve("hosted/worker-0.log")), "worker-0 ran in the coordinator's process");
    assertTrue(Files.exists(dir.resolve("hosted/worker-1.log")));
    String log = Files.readString(dir.resolve("hosted/coordinator.log"));
    assertTrue(log.contains("i.o.worker.Worker - round 2 slot "), log);
    JsonNode a = apart.get("round_results");
    JsonNode h = hosted.get("round_results");
    assertEquals(2, h.size());
    for (int i = 0; i < 2; i++) {
      assertEquals("[0,1]", h.get(i).get("mergedSlots").toString());
      for (String field : List.of("meanLoss", "validationLoss")) {
        assertEquals(Double.doubleToLongBits(a.get(i).get(field).asDouble()),
            Double.doubleToLongBits(h.get(i).get(field).asDouble()), "round " + (i + 1) + " " + field);
      }
    }
  }

  @Test
  @Timeout(120)
  void aHostedWorkerThatKeepsFailingStopsTheRunWithOneLine(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    Launcher.Result r = new Launcher(new LaunchConfig(1, dir, RUN, List.of("--fetch", "sometimes"), List.of(), 1, JVM,
        -1, true), new PrintStream(shown, true, StandardCharsets.UTF_8)).run();
    String log = Files.readString(dir.resolve("coordinator.log"));
    assertEquals(1, r.exitCode(), shown + "\n" + log);
    assertEquals(Launcher.RESTARTS, log.lines().filter(l -> l.startsWith("hosted worker-0 exited with status 2")).count(),
        log);
    assertTrue(log.contains("error: hosted worker-0 failed 3 times, so the run stops"), log);
    assertTrue(log.contains("--fetch must be update or full, got 'sometimes'"), log);
  }

  private static JsonNode launch(Path dir, boolean host) throws Exception {
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    Launcher.Result r = new Launcher(new LaunchConfig(2, dir, RUN, List.of(), List.of(), 1, JVM, -1, host),
        new PrintStream(shown, true, StandardCharsets.UTF_8)).run();
    assertEquals(0, r.exitCode(), shown.toString(StandardCharsets.UTF_8));
    return new ObjectMapper().readTree(dir.resolve("coordinator/summary.json").toFile());
  }
}
