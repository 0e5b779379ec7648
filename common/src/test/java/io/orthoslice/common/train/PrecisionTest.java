package io.orthoslice.common.train;

import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.LlamaConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** fp16 compute with fp32 master weights and dynamic loss scaling, on the CPU. */
class PrecisionTest {

  private static final LlamaConfig MODEL = LlamaConfig.preset("tiny").withVocabSize(32);
  /** fp16 kernels on the CPU are slow: few short steps. */
  private static final int STEPS = 24;

  /** Token t+1 = (5 t + 3) mod 32, restarting every 8 tokens: learnable in a few dozen steps. */
  private static long[] batch(int step, TrainConfig cfg) {
    long[] t = new long[cfg.microBatch() * cfg.gradAccum() * (cfg.seqLen() + 1)];
    long x = step;
    for (int i = 0; i < t.length; i++) {
      x = i % 8 == 0 ? (x * 2654435761L + i) % 32 : (5 * x + 3) % 32;
      t[i] = x;
    }
    return t;
  }

  private static final MethodSpec ADAPTER = new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", 8, 10,
      MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 2.0);

  private static double[] train(Precision p, MethodSpec method, double[] initialScale, boolean[] skipped) {
    TrainConfig cfg = TrainConfig.defaults(STEPS).withBatch(16, 2, 1).withOptim(2e-2, 1e-3, 0.0, 1.0)
        .withPrecision(p).withMethod(method);
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(MODEL, 7, root, p.master());
    double[] losses = new double[STEPS];
    try (Trainer t = new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg, w, root))) {
      if (initialScale != null) {
        t.lossScaler().restore(initialScale);
      }
      for (int s = 0; s < losses.length; s++) {
        Trainer.StepStats st = t.step(batch(s, cfg));
        losses[s] = st.loss();
        if (skipped != null) {
          skipped[s] = st.skipped();
        }
      }
      try (NDManager scope = root.newSubManager()) {
        t.effectiveWeights(scope).forEach((n, a) -> assertEquals(p.master(), a.getDataType(), n));
      }
    }
    return losses;
  }

  @Test
  void fp16TrainsLikeFp32WithFp32MasterWeights() {
    double[] fp32 = train(Precision.FP32, MethodSpec.FULL_RANK, null, null);
    double[] fp16 = train(Precision.FP16, MethodSpec.FULL_RANK, null, null);
    assertTrue(fp16[STEPS - 1] < fp16[0] - 0.5, "fp16 loss must fall: " + fp16[0] + " -> " + fp16[STEPS - 1]);
    // Same data, init and schedule: the curves differ by fp16 rounding only, which training
    // amplifies slowly; over the first 8 steps they agree closely (a lost gradient would not).
    double diff = 0;
    for (int s = 0; s < 8; s++) {
      diff += Math.abs(fp32[s] - fp16[s]) / 8;
    }
    assertTrue(diff < 0.02, "mean |fp32 - fp16| loss over 8 steps: " + diff);
  }

  @Test
  void anOverflowSkipsTheStepAndHalvesTheScale() {
    // 2^24 makes the fp16 gradients overflow (fp16 max 65504): skip, halve, until they fit. With
    // an adapter (scale 2), whose factor and frozen base are cast to fp16 on the tape as well.
    boolean[] skipped = new boolean[STEPS];
    double[] losses = train(Precision.FP16, ADAPTER, new double[] {1 << 24, 0}, skipped);
    assertTrue(skipped[0], "the first step overflows at scale 2^24");
    int skips = 0;
    for (boolean s : skipped) {
      skips += s ? 1 : 0;
    }
    assertTrue(skips >= 1 && skips <= 12, "overflowing steps: " + skips);
    assertFalse(skipped[STEPS - 1], "training recovers");
    assertTrue(losses[STEPS - 1] < losses[0] - 0.5, "loss falls after recovery: " + losses[0] + " -> " + losses[STEPS - 1]);
  }

  @Test
  void lossScalerFollowsTheAmpRule() {
    LossScaler s = LossScaler.forPrecision(Precision.FP16);
    assertTrue(s.dynamic());
    assertEquals(65536.0, s.scale());
    assertFalse(s.update(false));
    assertEquals(32768.0, s.scale());
    for (int i = 0; i < 1999; i++) {
      assertTrue(s.update(true));
    }
    assertEquals(32768.0, s.scale());
    assertTrue(s.update(true)); // 2000 clean steps
    assertEquals(65536.0, s.scale());
    assertArrayEquals(new double[] {65536.0, 0}, s.snapshot());
    LossScaler fixed = LossScaler.forPrecision(Precision.FP32);
    assertTrue(fixed.update(false), "fp32 applies every step; the trainer's own guard skips non-finite ones");
    assertEquals(1.0, fixed.scale());
    assertThrows(IllegalArgumentException.class, () -> Precision.parse("bf16"));
  }
}
