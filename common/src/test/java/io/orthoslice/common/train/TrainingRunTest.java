package io.orthoslice.common.train;

import io.orthoslice.common.config.RunOptions;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.data.DatasetWindows;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.checkpoint.Checkpoint;
import io.orthoslice.common.checkpoint.CheckpointStore;
import io.orthoslice.common.data.ByteTokenizer;
import io.orthoslice.common.data.DefaultCorpus;
import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.model.LlamaConfig;
import java.io.PrintStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The standalone run end to end on the embedded Europarl corpus (tiny preset, short sequences). */
class TrainingRunTest {

  @TempDir static Path cache;
  private static TokenDataset dataset;
  private static LlamaConfig model;

  @BeforeAll
  static void prepare() throws Exception {
    dataset = TokenDataset.open(DefaultCorpus.ensurePrepared(cache, new ByteTokenizer()));
    model = LlamaConfig.preset("tiny").withVocabSize(dataset.manifest().vocabSize());
  }

  @AfterAll
  static void close() {
    dataset.close();
  }

  private static TrainConfig config(long steps, MethodSpec method) {
    return TrainConfig.defaults(steps).withBatch(64, 4, 2).withOptim(3e-3, 3e-4, 0.1, 1.0).withMethod(method);
  }

  private static List<Double> run(TrainConfig cfg, Path out, boolean resume, int checkpointEvery) {
    List<Double> losses = new ArrayList<>();
    RunOptions opts = new RunOptions(out, 0, 2, checkpointEvery, 5, 10, resume, null, "cpu");
    ProgressReporter quiet = new ProgressReporter(cfg.steps(), cfg.tokensPerStep(), 1000, false,
        new PrintStream(OutputStream.nullOutputStream()));
    TrainingRun.run(model, cfg, opts, new DatasetWindows(dataset, cfg.seqLen(), cfg.seed()), 256, 256, quiet,
        s -> losses.add(s.loss()));
    return losses;
  }

  @Test
  void lossFallsOnTheDefaultCorpusWithinAFewDozenSteps(@TempDir Path out) {
    List<Double> losses = run(config(40, MethodSpec.FULL_RANK), out, false, 0);
    double first = losses.get(0);
    double last = losses.subList(35, 40).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    assertEquals(Math.log(257), first, 0.3, "an untrained model is near uniform over 257 bytes");
    assertTrue(last < first - 1.5, "loss must fall by > 1.5 nats in 40 steps: " + first + " -> " + last);
  }

  /**
   * evaluations.jsonl gets one record per evaluation, each with its interval: the tokens up to its step, and
   * the checkpoint seconds only in the intervals that wrote one; train.json names the run from its start.
   */
  @Test
  void everyEvaluationAppendsItsIntervalAndTheSettingsAreOnDiskFromTheStart(@TempDir Path out) throws Exception {
    TrainConfig cfg = config(6, MethodSpec.FULL_RANK);
    RunOptions opts = new RunOptions(out, 2, 1, 3, 5, 10, false, null, "cpu");
    ProgressReporter quiet = new ProgressReporter(cfg.steps(), cfg.tokensPerStep(), 1000, false,
        new PrintStream(OutputStream.nullOutputStream()));
    TrainingRun.run(model, cfg, opts, new DatasetWindows(dataset, cfg.seqLen(), cfg.seed()), 256, 256, quiet);
    List<com.fasterxml.jackson.databind.JsonNode> r = RunFiles.read(out.resolve(RunFiles.EVALUATIONS));
    assertEquals(List.of(2L, 4L, 6L), r.stream().map(n -> n.get("step").asLong()).toList());
    assertEquals(List.of(2 * cfg.tokensPerStep(), 4 * cfg.tokensPerStep(), 6 * cfg.tokensPerStep()),
        r.stream().map(n -> n.get("tokens").asLong()).toList());
    // Checkpoints after steps 3 and 6 (--checkpoint-every 3): in the second and third intervals only.
    assertEquals(List.of(false, true, true), r.stream().map(n -> n.get("checkpointSeconds").asDouble() > 0).toList());
    for (com.fasterxml.jackson.databind.JsonNode n : r) {
      double parts = n.get("stepSeconds").asDouble() + n.get("evalSeconds").asDouble()
          + n.get("checkpointSeconds").asDouble();
      assertTrue(parts > 0 && parts <= n.get("seconds").asDouble(), n.toString());
      assertTrue(Double.isFinite(n.get("validationLoss").asDouble()) && n.get("trainLoss").asDouble() > 0, n.toString());
    }
    com.fasterxml.jackson.databind.JsonNode start = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(out.resolve(RunFiles.TRAIN_CONFIG).toFile());
    assertEquals(6, start.get("train_config").get("steps").asLong());
    assertEquals(model.hiddenSize(), start.get("model").get("hidden_size").asInt());
  }

  /**
   * One case per method, so that surefire re-runs only the case a rare DJL bad gradient hit (see
   * docs/PERFORMANCE.md). The quantized bases cover the merge at step 6, which re-quantizes W + B
   * P^T: the checkpoint must carry those codes and scales, since re-quantizing the checkpoint's
   * dequantized-and-merged weights gives another base.
   */
  @ParameterizedTest(name = "{0} {1} {2}")
  @CsvSource({"full, orthogonal, fp32", "adapter, orthogonal, fp32", "adapter, orthogonal, int8",
      "adapter, orthogonal, nf4", "adapter, two-sided, fp32"})
  void resumedRunContinuesExactlyLikeTheUninterruptedOne(String name, String projection, String base,
      @TempDir Path dir) throws Exception {
    MethodSpec.Method m = MethodSpec.parseEnum(MethodSpec.Method.class, "method", name);
    MethodSpec method = m == MethodSpec.Method.FULL ? MethodSpec.FULL_RANK
        : new MethodSpec(m, projection, 4, 6, MethodSpec.StatePolicy.TRANSPORT, MethodSpec.Optimizer.ADAMW, base, 1.0);
    String label = name + "/" + projection + "/" + base;
    TrainConfig cfg = config(16, method);
    Path whole = dir.resolve("whole");
    Path split = dir.resolve("split");
    List<Double> reference = run(cfg, whole, false, 0);
    // Interrupted after step 9 (a checkpoint at 9, mid-interval for the adapter), then resumed.
    List<Double> before = run(cfg.withSteps(16, cfg.warmup()), split, false, 9).subList(0, 9);
    deleteNewerThan(split, 9);
    List<Double> after = run(cfg, split, true, 0);
    List<Double> joined = new ArrayList<>(before);
    joined.addAll(after);
    assertEquals(reference, joined, label + ": the loss curve after resume must equal the uninterrupted run's");
    assertSameWeights(whole, split);
  }

  /** Simulates a crash after step {@code step}: only checkpoints up to it survive. */
  private static void deleteNewerThan(Path runDir, long step) throws Exception {
    CheckpointStore store = new CheckpointStore(runDir.resolve("checkpoints"), 5);
    for (Path p : store.list()) {
      if (!p.getFileName().toString().equals(CheckpointStore.stepName(step))) {
        io.orthoslice.common.checkpoint.AtomicFiles.removeDirectory(p);
      }
    }
  }

  private static void assertSameWeights(Path a, Path b) throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      CheckpointStore sa = new CheckpointStore(a.resolve("checkpoints"), 5);
      CheckpointStore sb = new CheckpointStore(b.resolve("checkpoints"), 5);
      Checkpoint ca = sa.load(sa.latest().orElseThrow(), m, DataType.FLOAT32);
      Checkpoint cb = sb.load(sb.latest().orElseThrow(), m, DataType.FLOAT32);
      assertEquals(ca.trainerState().step(), cb.trainerState().step());
      for (String name : ca.weights().keySet()) {
        NDArray x = ca.weights().get(name);
        NDArray y = cb.weights().get(name);
        assertArrayEquals(x.toByteArray(), y.toByteArray(), name + " must be bit-identical");
      }
    }
  }

  @Test
  void startingOverAnExistingRunIsRefusedSoNothingIsOverwritten(@TempDir Path out) {
    run(config(2, MethodSpec.FULL_RANK), out, false, 0);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> run(config(2, MethodSpec.FULL_RANK), out, false, 0));
    assertTrue(e.getMessage().contains("--resume"), e.getMessage());
  }

  @Test
  void resumingWithOtherSettingsIsRefused(@TempDir Path out) {
    run(config(2, MethodSpec.FULL_RANK), out, false, 0);
    TrainConfig other = config(2, MethodSpec.FULL_RANK).withOptim(1e-3, 1e-4, 0.1, 1.0);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(other, out, true, 0));
    assertTrue(e.getMessage().contains("'lr'"), e.getMessage());
  }
}
