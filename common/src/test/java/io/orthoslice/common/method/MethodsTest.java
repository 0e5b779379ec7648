package io.orthoslice.common.method;

import io.orthoslice.common.train.ModelInit;
import io.orthoslice.common.train.Trainer;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.model.LlamaConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every training method learns, and none leaks native memory from one step to the next. */
class MethodsTest {

  private static final LlamaConfig MODEL = LlamaConfig.preset("tiny").withVocabSize(32);

  /** A learnable stream: token t+1 = (3 t + 1) mod 32 with a random restart every 8 tokens. */
  private static long[] batch(int step, TrainConfig cfg) {
    long[] t = new long[cfg.microBatch() * cfg.gradAccum() * (cfg.seqLen() + 1)];
    long x = step;
    for (int i = 0; i < t.length; i++) {
      x = i % 8 == 0 ? (x * 2654435761L + i) % 32 : (3 * x + 1) % 32;
      t[i] = x;
    }
    return t;
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @CsvSource({
    "full, orthogonal, adamw, fp32",
    "galore, svd, adamw, fp32",
    "galore, gaussian, adamw, fp32",
    "galore, two-sided, adamw, fp32",
    "adapter, orthogonal, adamw, fp32",
    "adapter, two-sided, adamw, fp32",
    "adapter, rademacher, adamw, int8",
    "adapter, gaussian, adamw, nf4",
    "lora, orthogonal, adamw, fp32",
    "relora, orthogonal, adamw, fp32",
    "full, orthogonal, ldadam, fp32"
  })
  void everyMethodLowersTheLossWithoutLeakingNativeMemory(String method, String projection, String optimizer, String base) {
    MethodSpec spec = new MethodSpec(MethodSpec.parseEnum(MethodSpec.Method.class, "method", method), projection,
        method.equals("full") && optimizer.equals("adamw") ? 0 : 8, 25, MethodSpec.StatePolicy.TRANSPORT,
        MethodSpec.parseEnum(MethodSpec.Optimizer.class, "optimizer", optimizer), base, 1.0);
    TrainConfig cfg = TrainConfig.defaults(80).withBatch(32, 4, 1).withOptim(1e-2, 1e-3, 0.0, 1.0).withMethod(spec);
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(MODEL, 3, root, cfg.precision().master());
    try (Trainer t = new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg, w, root))) {
      double first = t.step(batch(0, cfg)).loss();
      int arrays = -1;
      double last = 0;
      for (int s = 1; s < 80; s++) {
        last = t.step(batch(s, cfg)).loss();
        if (s == 30) { // after the first merge, every long-lived array exists
          arrays = root.getManagedArrays().size();
        }
      }
      assertEquals(arrays, root.getManagedArrays().size(), "native arrays held by the root must stay constant");
      assertTrue(last < first - 0.5, method + "/" + base + ": loss must fall by > 0.5 nats: " + first + " -> " + last);
    }
  }

  /**
   * A collection between a forward and a backward pass frees Java-side buffers; if an operand that
   * autograd saved lived in one (DJL's Number operands do), the gradient silently changes. With
   * freed memory handed out again all the time, training must give bit-identical losses.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"full", "galore", "adapter", "lora"})
  void trainingIsUnaffectedByCollectionsBetweenForwardAndBackward(String method) {
    MethodSpec spec = new MethodSpec(MethodSpec.parseEnum(MethodSpec.Method.class, "method", method), "orthogonal",
        method.equals("full") ? 0 : 8, 25, MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 2.0);
    TrainConfig cfg = TrainConfig.defaults(6).withBatch(16, 4, 1).withOptim(1e-2, 0, 0.0, 1.0).withMethod(spec);
    double[] quiet = losses(cfg, null);
    Thread reuse = io.orthoslice.common.tensor.FreedMemoryReuse.background();
    double[] busy;
    try {
      busy = losses(cfg, reuse);
    } finally {
      reuse.interrupt();
    }
    assertArrayEquals(quiet, busy, method + ": losses with collections in between");
  }

  /**
   * The merged arrangement {@code x (W + alpha lift(B))^T} (the default) is the same function with the same factor
   * gradient as the factored one: the same six losses up to fp32 rounding, one- and two-sided, and
   * it keeps no array beyond the step.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"orthogonal", "two-sided"})
  void theMergedAdapterArrangementTrainsAsTheFactoredOne(String projection) {
    MethodSpec spec = new MethodSpec(MethodSpec.Method.ADAPTER, projection, 8, 25, MethodSpec.StatePolicy.CARRY,
        MethodSpec.Optimizer.ADAMW, "fp32", 2.0);
    TrainConfig cfg = TrainConfig.defaults(6).withBatch(16, 4, 1).withOptim(1e-2, 0, 0.0, 1.0).withMethod(spec);
    double[] merged = losses(cfg, null); // the default
    double[] factored;
    AdapterMatrix.arrangeMerged(false);
    try {
      factored = losses(cfg, null);
    } finally {
      AdapterMatrix.arrangeMerged(true);
    }
    for (int s = 0; s < factored.length; s++) {
      assertEquals(factored[s], merged[s], 1e-5 * Math.abs(factored[s]), projection + " step " + s);
    }
    assertTrue(factored[5] < factored[0] - 0.1, "the adapter must learn: " + factored[0] + " -> " + factored[5]);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AdapterMatrix.arrangement("fused"));
    assertEquals("-D" + AdapterMatrix.ARRANGEMENT_PROPERTY + "=fused: allowed are factored and merged", e.getMessage());
  }

  /**
   * A step at an lr factor (a distributed round's own warm-up) is a step of the schedule scaled by it:
   * factor 0.5 on lr 1e-2 -> 1e-3 gives the weights of lr 5e-3 -> 5e-4, bit for bit (halving is
   * exact in binary), and the stats report the rate applied.
   */
  @Test
  void aStepAtAnLrFactorIsAStepOfTheScaledSchedule() {
    MethodSpec spec = new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", 8, 25, MethodSpec.StatePolicy.CARRY,
        MethodSpec.Optimizer.ADAMW, "fp32", 1.0);
    TrainConfig cfg = TrainConfig.defaults(6).withBatch(16, 4, 1).withMethod(spec);
    float[][] halved = weightsAfterThreeSteps(cfg.withOptim(1e-2, 1e-3, 0.1, 1.0), 0.5);
    float[][] scaled = weightsAfterThreeSteps(cfg.withOptim(5e-3, 5e-4, 0.1, 1.0), 1.0);
    float[][] full = weightsAfterThreeSteps(cfg.withOptim(1e-2, 1e-3, 0.1, 1.0), 1.0);
    boolean differs = false;
    for (int i = 0; i < halved.length; i++) {
      assertArrayEquals(scaled[i], halved[i], "parameter " + i);
      differs |= !java.util.Arrays.equals(full[i], halved[i]);
    }
    assertTrue(differs, "the factor must change the trajectory");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> weightsAfterThreeSteps(cfg, 1.5));
    assertEquals("lr factor must be in (0, 1], got 1.5", e.getMessage());
  }

  private static float[][] weightsAfterThreeSteps(TrainConfig cfg, double lrFactor) {
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(MODEL, 5, root, cfg.precision().master());
    try (Trainer t = new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg, w, root));
        NDManager scope = root.newSubManager()) {
      for (int s = 0; s < 3; s++) {
        assertEquals(cfg.schedule().at(s) * lrFactor, t.step(batch(s, cfg), lrFactor).lr(), 0.0);
      }
      return t.effectiveWeights(scope).values().stream().map(NDArray::toFloatArray).toArray(float[][]::new);
    }
  }

  private static double[] losses(TrainConfig cfg, Thread reuse) {
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(MODEL, 5, root, cfg.precision().master());
    double[] out = new double[6];
    try (Trainer t = new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg, w, root))) {
      for (int s = 0; s < out.length; s++) {
        out[s] = t.step(batch(s, cfg)).loss();
      }
    }
    return out;
  }

  @Test
  void optimizerStateOfProjectedMatricesShrinksToAboutRankOverSide() {
    TrainConfig full = TrainConfig.defaults(10);
    LlamaConfig m = LlamaConfig.preset("20m").withVocabSize(257);
    MethodSpec galore = new MethodSpec(MethodSpec.Method.GALORE, "gaussian", 32, 200,
        MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 1.0);
    long fullState = projectedState(m, full);
    long galoreState = projectedState(m, full.withMethod(galore));
    // Each projected m x n matrix keeps 2 r max(m, n) numbers instead of 2 m n: r / min(m, n).
    double ratio = (double) galoreState / fullState;
    assertTrue(ratio > 32.0 / 688 && ratio < 32.0 / 256 * 1.01, "state ratio " + ratio);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"galore", "adapter"})
  void twoSidedKeepsTwoRSquaredFloatsOfStateAndTheAdapterNoGradientOfW(String method) {
    int r = 8;
    MethodSpec spec = new MethodSpec(MethodSpec.parseEnum(MethodSpec.Method.class, "method", method), "two-sided", r,
        25, MethodSpec.StatePolicy.TRANSPORT, MethodSpec.Optimizer.ADAMW, "fp32", 1.0);
    TrainConfig cfg = TrainConfig.defaults(4).withBatch(32, 4, 1).withMethod(spec);
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(MODEL, 3, root, cfg.precision().master());
    try (Trainer t = new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg, w, root))) {
      t.step(batch(0, cfg));
      int projected = 0;
      for (ParameterTrainer p : t.parameters().values()) {
        if (p.spec().role() != io.orthoslice.common.model.ParameterSpec.Role.PROJECTED) {
          continue;
        }
        projected++;
        MemoryUse mem = p.memory();
        String name = p.spec().name();
        assertEquals(2L * r * r * Float.BYTES, mem.optimizerBytes(), name + ": Adam state must be 2 r^2 floats");
        assertEquals(2L * Long.BYTES, mem.projectionBytes(), name + ": L and R persist as two seeds");
        long mn = (long) p.spec().rows() * p.spec().cols() * Float.BYTES;
        if (p instanceof AdapterMatrix a) {
          assertEquals((long) r * r * Float.BYTES, mem.gradientBytes(), name + ": only M has a gradient");
          assertEquals(List.of((long) r, (long) r), List.of(a.factor().getShape().get(0), a.factor().getShape().get(1)));
          assertFalse(a.base().hasGradient(), name + ": the frozen W must carry no gradient buffer");
        } else {
          assertEquals(mn, mem.gradientBytes(), name + ": GaLore form holds the m x n gradient");
        }
      }
      assertEquals(7 * MODEL.numLayers(), projected);
    }
  }

  private static long projectedState(LlamaConfig m, TrainConfig cfg) {
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(m, 1, root, cfg.precision().master());
    try (Trainer t = new Trainer(m, cfg, root, TrainingMethods.build(m, cfg, w, root))) {
      return t.parameters().values().stream()
          .filter(p -> p.spec().role() == io.orthoslice.common.model.ParameterSpec.Role.PROJECTED)
          .mapToLong(p -> p.memory().optimizerBytes()).sum();
    }
  }

  @Test
  void impossibleCombinationsAreRefusedWithOneLine() {
    LlamaConfig m = MODEL;
    MethodSpec tooBig = new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", 65, 10,
        MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 1.0);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TrainingMethods.validate(m, tooBig));
    assertTrue(e.getMessage().startsWith("--rank 65 exceeds the projected side 64"), e.getMessage());
    MethodSpec svdInt8 = new MethodSpec(MethodSpec.Method.ADAPTER, "svd", 4, 10,
        MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "int8", 1.0);
    TrainConfig cfg = TrainConfig.defaults(10).withMethod(svdInt8);
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(m, 1, root, cfg.precision().master());
    e = assertThrows(IllegalArgumentException.class, () -> TrainingMethods.build(m, cfg, w, root));
    assertTrue(e.getMessage().contains("quantized"), e.getMessage());
    root.close();
  }
}
