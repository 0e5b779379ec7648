package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher as a supervisor: a worker that fails is started again, and one that fails every time
 * ends the run with one error line naming it and its own error, instead of leaving the coordinator
 * waiting for workers that will never come (what a heap too small for the model did on the H200).
 */
class LaunchSupervisionMultiProcessTest {

  @Test
  @Timeout(150)
  void aWorkerThatKeepsFailingEndsTheRunWithItsError(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    List<String> coordinator = List.of("--rounds", "2", "--local-steps", "2", "--mode", "orthogonal", "--rank", "8",
        "--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--eval-batches", "1");
    // Every worker refuses this argument at start, so every start fails the same way.
    Launcher.Result r = new Launcher(new LaunchConfig(2, dir, coordinator, List.of("--no-such-option"), List.of(), 1,
        List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")),
        new PrintStream(shown, true, StandardCharsets.UTF_8)).run();
    String view = shown.toString(StandardCharsets.UTF_8);
    assertNotEquals(0, r.exitCode(), view);
    assertTrue(view.contains("; starting it again (1 of " + Launcher.RESTARTS + ")"), view);
    assertTrue(view.contains("; starting it again (2 of " + Launcher.RESTARTS + ")"), view);
    List<String> errors = view.lines().filter(l -> l.startsWith("error: worker-")).toList();
    assertEquals(1, errors.size(), view);
    String error = errors.get(0);
    assertTrue(error.contains(" exited with status 2 (") && error.contains("--no-such-option")
        && error.endsWith("; it failed " + (Launcher.RESTARTS + 1) + " times, so the run stops (the coordinator"
        + " keeps its last checkpoint)"), error);
    String log = Files.readString(dir.resolve(error.substring("error: ".length(), error.indexOf(' ', 7)) + ".log"));
    assertEquals(Launcher.RESTARTS + 1, log.lines().filter(l -> l.contains("--no-such-option")).count(), log);
  }

  @Test
  void theLastErrorLineOfALogIsFound(@TempDir Path dir) throws Exception {
    Path log = dir.resolve("w.log");
    Files.writeString(log, "INFO starting\njava.lang.IllegalStateException: first\n\tat x.y(Z.java:1)\n"
        + "Exception in thread \"grpc-default-executor-0\" java.lang.OutOfMemoryError: Java heap space\n\tat a.b\n");
    assertEquals(Optional.of("Exception in thread \"grpc-default-executor-0\" java.lang.OutOfMemoryError: Java heap"
        + " space"), Launcher.lastError(log));
    assertEquals(Optional.empty(), Launcher.lastError(dir.resolve("missing.log")));
  }
}
