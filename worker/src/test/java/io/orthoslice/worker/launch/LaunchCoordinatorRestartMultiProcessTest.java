package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * launch heals a killed coordinator by itself: kill -9 once round 2 of 4 merged, and the launcher starts it again
 * with --resume from its last checkpoint (every round by default); the workers rejoin and the run finishes.
 */
class LaunchCoordinatorRestartMultiProcessTest {

  @Test
  @Timeout(240)
  void aKilledCoordinatorIsStartedAgainWithResumeAndTheRunFinishes(@TempDir Path dir) throws Exception {
    assertTrue(Launcher.killed(137) && Launcher.killed(134));
    assertFalse(Launcher.killed(143) || Launcher.killed(1) || Launcher.killed(2) || Launcher.killed(0));
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    List<String> run = List.of("--rounds", "4", "--local-steps", "3", "--rank", "8", "--preset", "tiny",
        "--seq-len", "32", "--batch-size", "4", "--eval-batches", "1");
    Path log = dir.resolve("coordinator.log");
    Launcher launcher = new Launcher(new LaunchConfig(2, dir, run, List.of(), List.of(), 1,
        List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")),
        new PrintStream(shown, true, StandardCharsets.UTF_8));
    CompletableFuture<Boolean> killed = CompletableFuture.supplyAsync(() -> {
      long end = System.nanoTime() + 120_000_000_000L;
      while (System.nanoTime() < end) {
        try {
          // Bytes decoded leniently: the log is being written, a line may be cut mid-character.
          if (Files.exists(log) && new String(Files.readAllBytes(log), StandardCharsets.UTF_8)
              .contains("round 2/4:")) {
            Optional<ProcessHandle> c = launcher.coordinator();
            return c.isPresent() && c.get().destroyForcibly();
          }
          Thread.sleep(20);
        } catch (java.io.IOException e) {
          // the file is being replaced; look again
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return false;
    });
    Launcher.Result r = launcher.run();
    String view = shown.toString(StandardCharsets.UTF_8);
    assertTrue(killed.get(), "the coordinator was not found to kill\n" + view);
    assertEquals(0, r.exitCode(), view);
    assertTrue(view.contains("(killed); starting it again with --resume (1 of 2)"), view);
    assertTrue(view.contains("final validation perplexity"), view);
    assertTrue(view.contains("round 4/4"), view);
  }
}
