package io.orthoslice.common.method;

import io.orthoslice.common.train.ModelInit;
import io.orthoslice.common.train.Trainer;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.projection.PortableRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The result Orthoslice rests on: training with a linear gradient transformation (GaLore) and
 * training a one-sided adapter W + B P^T with the same P, optimizer and data give the same W_eff at
 * every step, across merges and re-draws; likewise GaLore's two-sided projection L^T G R and the
 * two-sided adapter W + L M R^T. Exact when weight decay is 0, clipping is off and alpha =
 * 1 (docs/methods.md section 7.3); so in float64 only rounding separates the two.
 */
class DualityTest {

  private static final LlamaConfig MODEL = LlamaConfig.preset("tiny").withVocabSize(40);
  private static final int STEPS = 50;
  private static final int MERGE_EVERY = 20; // merges and re-draws after steps 20 and 40

  private static MethodSpec method(MethodSpec.Method method, String projection, MethodSpec.StatePolicy policy,
      double scale) {
    return new MethodSpec(method, projection, 8, MERGE_EVERY, policy, MethodSpec.Optimizer.ADAMW, "fp32", scale);
  }

  private static TrainConfig config(Precision precision, String projection, MethodSpec.StatePolicy policy) {
    MethodSpec galore = method(MethodSpec.Method.GALORE, projection, policy, 1.0);
    // wd 0, clipping off: the conditions under which the equivalence is exact.
    return TrainConfig.defaults(STEPS).withBatch(16, 2, 1).withOptim(3e-3, 3e-4, 0.0, 0.0)
        .withPrecision(precision).withMethod(galore);
  }

  private static List<long[]> batches(TrainConfig cfg) {
    PortableRandom rng = new PortableRandom(7);
    List<long[]> out = new ArrayList<>();
    for (int s = 0; s < STEPS; s++) {
      long[] t = new long[cfg.microBatch() * (cfg.seqLen() + 1)];
      for (int i = 0; i < t.length; i++) {
        t[i] = (long) (rng.nextDouble() * MODEL.vocabSize());
      }
      out.add(t);
    }
    return out;
  }

  /** Largest relative Frobenius error between the two runs' W_eff over all steps. */
  static double maxRelativeError(Precision precision, String projection, MethodSpec.StatePolicy policy,
      double adapterScale) {
    TrainConfig galore = config(precision, projection, policy);
    TrainConfig adapter = galore.withMethod(method(MethodSpec.Method.ADAPTER, projection, policy, adapterScale));
    List<long[]> data = batches(galore);
    double worst = 0;
    try (Trainer a = trainer(galore); Trainer b = trainer(adapter)) {
      for (long[] batch : data) {
        a.step(batch);
        b.step(batch);
        try (NDManager scope = a.root().newSubManager()) {
          worst = Math.max(worst, relativeError(a.effectiveWeights(scope), b.effectiveWeights(scope)));
        }
      }
    }
    return worst;
  }

  private static Trainer trainer(TrainConfig cfg) {
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(MODEL, 11, root, cfg.precision().master());
    return new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg, w, root));
  }

  private static double relativeError(LinkedHashMap<String, NDArray> x, LinkedHashMap<String, NDArray> y) {
    double diff = 0;
    double norm = 0;
    for (String name : x.keySet()) {
      double[] a = x.get(name).toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
      double[] b = y.get(name).toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
      for (int i = 0; i < a.length; i++) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
      }
    }
    return Math.sqrt(diff / norm);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"gaussian, carry", "orthogonal, carry", "svd, carry", "two-sided, carry", "two-sided, transport"})
  void projectedGradientsAndAdaptersFollowTheSameTrajectoryInFloat64(String projection, String policy) {
    double err = maxRelativeError(Precision.FP64, projection, policy(policy), 1.0);
    assertTrue(err < 1e-9, projection + "/" + policy + ": max relative error " + err + " must be < 1e-9");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"orthogonal", "two-sided"})
  void theTwoModesAgreeWithinFloat32Rounding(String projection) {
    double err = maxRelativeError(Precision.FP32, projection, MethodSpec.StatePolicy.CARRY, 1.0);
    // Stated float32 bound: 50 Adam steps of rounding, relative to the weights' size.
    assertTrue(err < 1e-4, projection + ": max relative error " + err + " must be < 1e-4 in float32");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"orthogonal", "two-sided"})
  void negativeControlAWrongAdapterScaleBreaksTheAgreement(String projection) {
    double err = maxRelativeError(Precision.FP64, projection, MethodSpec.StatePolicy.CARRY, 1.01);
    assertTrue(err > 1e-6, projection + ": a 1% wrong scale must be detected, got relative error " + err);
  }

  private static MethodSpec.StatePolicy policy(String name) {
    return MethodSpec.parseEnum(MethodSpec.StatePolicy.class, "state-on-redraw", name);
  }
}
