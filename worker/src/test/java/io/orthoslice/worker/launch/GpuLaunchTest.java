package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import io.orthoslice.worker.cli.OrthosliceCli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Two workers on one GPU under a real coordinator (tag {@code gpu}; skipped without a GPU). */
@Tag("gpu")
class GpuLaunchTest {

  @Test
  @Timeout(300)
  void twoWorkersOnOneGpuFinishTheRunAndTrainOnIt(@TempDir Path dir) throws Exception {
    assumeTrue(Engine.getInstance().getGpuCount() > 0, "no GPU visible to DJL");
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    Launcher.Result r = launch(dir, 2, false, List.of(), shown);
    String view = shown.toString(StandardCharsets.UTF_8);
    if (r.exitCode() != 0) { // the children's logs are in a temporary directory: show their ends
      StringBuilder logs = new StringBuilder(view);
      for (String f : List.of("coordinator.log", "worker-0.log", "worker-1.log")) {
        List<String> l = Files.readAllLines(dir.resolve("run").resolve(f));
        logs.append("\n--- ").append(f).append(" ---\n")
            .append(String.join("\n", l.subList(Math.max(0, l.size() - 15), l.size())));
      }
      view = logs.toString();
    }
    assertEquals(0, r.exitCode(), view);
    assertEquals(2, r.progress().stream().filter(l -> l.startsWith("round ")).count(), view);
    for (int i = 0; i < 2; i++) {
      String log = Files.readString(dir.resolve("run").resolve("worker-" + i + ".log"));
      assertTrue(log.contains("done: 2 rounds trained"), log);
    }
  }

  /**
   * {@code --host-worker} on a GPU with the native kernels where they load: the coordinator merges on the
   * card worker-0 trains on, its work on its own stream, and every replica rebuilds the coordinator's
   * weights bit for bit from the int8 broadcast (a worker logs "gave other weights" otherwise).
   */
  @Test
  @Timeout(300)
  void aHostedWorkerAndAWorkerProcessRebuildTheCoordinatorsWeightsOnTheSharedGpu(@TempDir Path dir) throws Exception {
    assumeTrue(Engine.getInstance().getGpuCount() > 0, "no GPU visible to DJL");
    ByteArrayOutputStream shown = new ByteArrayOutputStream();
    Launcher.Result r = launch(dir, 3, true, List.of("--wire", "int8", "--dtype", "fp16", "--kernels", "auto"), shown);
    String hosting = Files.readString(dir.resolve("run").resolve("coordinator.log"));
    String other = Files.readString(dir.resolve("run").resolve("worker-1.log"));
    assertEquals(0, r.exitCode(), shown + "\n" + hosting);
    assertEquals(3, r.progress().stream().filter(l -> l.startsWith("round ")).count(), hosting);
    assertTrue(hosting.contains("done: 3 rounds trained") && other.contains("done: 3 rounds trained"), hosting);
    assertTrue(!hosting.contains("gave other weights") && !other.contains("gave other weights"), hosting + other);
  }

  /**
   * Two workers on GPU 0 (worker-0 in the coordinator's process when {@code host}), tiny preset, on a small
   * corpus of our own: the embedded one need not travel to the GPU machine.
   */
  private static Launcher.Result launch(Path dir, int rounds, boolean host, List<String> extra,
      ByteArrayOutputStream shown) throws Exception {
    prepareData(dir);
    List<String> coordinator = new ArrayList<>(List.of("--rounds", Integer.toString(rounds), "--local-steps", "5",
        "--mode", "orthogonal", "--rank", "8", "--preset", "tiny", "--seq-len", "64", "--batch-size", "4",
        "--eval-batches", "2", "--data", dir.resolve("data").toString()));
    coordinator.addAll(extra);
    List<String> worker = new ArrayList<>(List.of("--data", dir.resolve("data").toString()));
    if (extra.contains("--kernels")) {
      worker.addAll(List.of("--kernels", extra.get(extra.indexOf("--kernels") + 1)));
    }
    return new Launcher(new LaunchConfig(2, dir.resolve("run"), coordinator, worker, List.of(0, 0), 1,
        List.of(host ? "-Xmx2g" : "-Xmx1g"), -1, host), new PrintStream(shown, true, StandardCharsets.UTF_8)).run();
  }

  private static void prepareData(Path dir) throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 4000; i++) {
      lines.add("document " + i + ": the coordinator merges the slices of round " + (i % 17) + " again.");
    }
    Path text = Files.write(dir.resolve("corpus.txt"), lines);
    assertEquals(0, OrthosliceCli.execute("prepare-data", text.toString(), "--output", dir.resolve("data").toString(),
        "--val-fraction", "0.05"));
  }
}
