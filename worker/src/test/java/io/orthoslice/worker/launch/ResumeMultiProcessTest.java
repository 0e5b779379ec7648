package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * --resume does the right thing at both ends of a run (real coordinator and worker JVMs): with no
 * checkpoint yet it starts the run fresh, and on a finished run it keeps summary.json, tells the
 * workers to leave, and everyone exits 0 at once.
 */
class ResumeMultiProcessTest {

  private static final List<String> RUN = List.of("--rounds", "2", "--local-steps", "3", "--rank", "8", "--preset",
      "tiny", "--seq-len", "32", "--batch-size", "4", "--eval-batches", "1");

  private static Launcher.Result launch(Path dir, StringBuilder view, String... extra) throws Exception {
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    List<String> args = new ArrayList<>(RUN);
    args.addAll(List.of(extra));
    Launcher.Result r = new Launcher(new LaunchConfig(2, dir, args, List.of(), List.of(), 1,
        List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")),
        new PrintStream(shown, true, StandardCharsets.UTF_8)).run();
    view.append(shown.toString(StandardCharsets.UTF_8));
    return r;
  }

  @Test
  @Timeout(240)
  void resumeWithoutACheckpointStartsFreshAndResumingAFinishedRunEndsAtOnceKeepingItsSummary(@TempDir Path dir)
      throws Exception {
    StringBuilder first = new StringBuilder();
    Launcher.Result r = launch(dir, first, "--resume"); // nothing there yet: a fresh start, not a refusal
    assertEquals(0, r.exitCode(), first.toString());
    String log = Files.readString(dir.resolve("coordinator.log"));
    assertTrue(log.contains("no checkpoint in") && log.contains("starting the run fresh"), log);
    assertEquals(2, first.toString().lines().filter(l -> l.startsWith("round ")).count(), first.toString());
    Path summary = dir.resolve("coordinator").resolve("summary.json");
    byte[] before = Files.readAllBytes(summary);

    StringBuilder again = new StringBuilder();
    long t0 = System.nanoTime();
    r = launch(dir, again, "--resume");
    double seconds = (System.nanoTime() - t0) / 1e9;
    String view = again.toString();
    assertEquals(0, r.exitCode(), view);
    String log2 = Files.readString(dir.resolve("coordinator.log"));
    assertTrue(log2.contains("is finished (its checkpoint is after round 2 of 2)"), log2);
    assertEquals(0, view.lines().filter(l -> l.startsWith("round ")).count(), view);
    assertTrue(view.lines().noneMatch(l -> l.contains("restart")), view);
    // Workers left at their first poll: not the 30 s the launcher would wait, nor their 120 s of retries.
    assertTrue(seconds < 25, "the resumed finished run took " + seconds + " s\n" + view);
    assertArrayEquals(before, Files.readAllBytes(summary), "summary.json was rewritten");
  }
}
