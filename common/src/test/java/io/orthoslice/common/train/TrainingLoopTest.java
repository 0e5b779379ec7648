package io.orthoslice.common.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.data.TokenWindows;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.model.LlamaConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one step loop: where each step reads, what it hands on, and the one rule for a non-finite loss. */
class TrainingLoopTest {

  private static final LlamaConfig TINY = new LlamaConfig(32, 16, 32, 1, 2, 2, 16, 1e-6, 10000.0, false, 0.02);

  /** Windows of 9 tokens (seq 8 + 1) whose ids encode their position; records every position read. */
  private static final class Recorded implements TokenWindows {
    final List<Long> positions = new ArrayList<>();

    @Override
    public long[] trainBatch(long position, int count) {
      positions.add(position);
      long[] out = new long[count * 9];
      for (int i = 0; i < out.length; i++) {
        out[i] = (position * 7 + i) % 32;
      }
      return out;
    }

    @Override
    public List<long[]> validationBatches(int batches, int batchSize) {
      return List.of();
    }

    @Override
    public long trainWindows() {
      return 1000;
    }

    @Override
    public String datasetId() {
      return "recorded";
    }
  }

  private static Trainer trainer(NDManager root, double lr) {
    return trainer(root, lr, Precision.FP32);
  }

  private static Trainer trainer(NDManager root, double lr, Precision precision) {
    TrainConfig cfg = TrainConfig.defaults(30).withBatch(8, 2, 1).withOptim(lr, lr / 10, 0.0, 0.0)
        .withPrecision(precision);
    return new Trainer(TINY, cfg, root, TrainingMethods.build(TINY, cfg,
        ModelInit.initialize(TINY, 1, root, DataType.FLOAT32), root));
  }

  @Test
  void stepIReadsItsWindowsAndEveryStepIsHandedOn() {
    Recorded data = new Recorded();
    try (NDManager root = NDManager.newBaseManager(); Trainer t = trainer(root, 1e-3)) {
      List<Long> steps = new ArrayList<>();
      TrainingLoop.Result r = TrainingLoop.run(t, data, 40, 2, 3, (i, s, seconds) -> {
        steps.add(s.step());
        assertTrue(seconds > 0);
      });
      assertEquals(List.of(40L, 42L, 44L), data.positions);
      assertEquals(List.of(1L, 2L, 3L), steps);
      assertEquals(3, r.steps());
      assertTrue(Double.isFinite(r.meanLoss()) && r.meanLoss() > 0, "mean loss " + r.meanLoss());
    }
  }

  @Test
  void aNonFiniteLossInFloat32StopsTheRunAtOnceNamingTheStep() {
    Recorded data = new Recorded();
    try (NDManager root = NDManager.newBaseManager(); Trainer t = trainer(root, 1e30)) {
      // A rate of 1e30 throws the weights past float32 in the first step: the second loss is not finite.
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> TrainingLoop.run(t, data, 0, 2, 5,
          (i, s, seconds) -> { }));
      assertTrue(e.getMessage().matches("loss became (NaN|-?Infinity) at step 2; lower --lr or enable --grad-clip"),
          e.getMessage());
      assertEquals(2, data.positions.size());
    }
  }

  @Test
  void inFloat16TheLossScalerGetsTenStepsToRecoverAndTheEleventhStops() {
    Recorded data = new Recorded();
    try (NDManager root = NDManager.newBaseManager(); Trainer t = trainer(root, 1e30, Precision.FP16)) {
      List<Boolean> finite = new ArrayList<>();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> TrainingLoop.run(t, data, 0, 2, 30,
          (i, s, seconds) -> finite.add(Double.isFinite(s.loss()))));
      assertTrue(e.getMessage().endsWith("(" + (TrainingLoop.FP16_NON_FINITE_STREAK + 1)
          + " steps in a row); lower --lr or enable --grad-clip"), e.getMessage());
      // Exactly the tolerated streak was handed on before the run stopped.
      assertEquals(TrainingLoop.FP16_NON_FINITE_STREAK, finite.stream().filter(f -> !f).count(), finite.toString());
    }
  }
}
