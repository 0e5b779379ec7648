package io.orthoslice.common.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.method.ParameterTrainer;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.model.GemmAlignment;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.PaddedMatrix;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.model.Weights;
import io.orthoslice.common.tensor.HostArrays;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Zero-padding the MLP width for its GEMMs (issue 34, aligned shapes) changes nothing but the order
 * of floating-point sums: in float64 on the CPU the padded model's loss and gradients equal the
 * unpadded one's, through each way a training rule forms its product, and what a checkpoint is
 * written from keeps the true shapes.
 */
class AlignedShapesTest {

  /** MLP width 37: aligned to no multiple but 1, so every multiple pads it (8 -> 40, 64 -> 64). */
  private static final LlamaConfig MODEL =
      new LlamaConfig(50, 16, 37, 2, 2, 2, 32, 1e-6, 10000.0, false, 0.02);
  private static final TrainConfig CONFIG = TrainConfig.defaults(3).withBatch(8, 2, 1)
      .withOptim(1e-2, 1e-3, 0.1, 1.0).withPrecision(Precision.FP64);
  /** Summation order only: a few ulps of values of order 1. */
  private static final double TOLERANCE = 1e-13;

  private static MethodSpec method(String name) {
    return switch (name) {
      case "full" -> MethodSpec.FULL_RANK; // pads the cast of W
      case "adapter" -> new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", 4, 10,
          MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 2.0); // pads W + B P^T
      case "lora" -> new MethodSpec(MethodSpec.Method.LORA, "orthogonal", 4, 10,
          MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 2.0); // pads around x W^T
      default -> throw new IllegalArgumentException(name);
    };
  }

  /** Two windows of 8 + 1 tokens, different for each {@code seed}. */
  private static long[] tokens(int seed) {
    long[] t = new long[2 * 9];
    long x = 11 + seed;
    for (int i = 0; i < t.length; i++) {
      x = (x * 2654435761L + 7) % 50;
      t[i] = x;
    }
    return t;
  }

  /** The loss (element 0) and every gradient of one forward and backward pass, flattened. */
  private static List<double[]> lossAndGradients(String methodName, GemmAlignment alignment) {
    return lossAndGradients(methodName, alignment, Precision.FP64);
  }

  private static List<double[]> lossAndGradients(String methodName, GemmAlignment alignment, Precision precision) {
    TrainConfig cfg = CONFIG.withMethod(method(methodName)).withPrecision(precision);
    DataType compute = precision.compute();
    List<double[]> out = new ArrayList<>();
    try (NDManager root = NDManager.newBaseManager()) {
      Map<String, NDArray> w = ModelInit.initialize(MODEL, 5, root, precision.master());
      LinkedHashMap<String, ParameterTrainer> params = TrainingMethods.build(MODEL, cfg, w, root);
      try (NDManager scope = root.newSubManager()) {
        params.values().forEach(p -> p.prepareStep(scope));
        NDArray batch = HostArrays.of(scope, tokens(0), new Shape(2, 9));
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          NDArray loss = new Llama(MODEL, null, alignment).loss(view(params, scope, compute),
              batch.get(new NDIndex(":, :-1")), batch.get(new NDIndex(":, 1:")), compute);
          gc.backward(loss);
          out.add(new double[] {loss.toType(DataType.FLOAT64, false).getDouble()});
        }
        params.values().forEach(p -> p.afterBackward(scope));
        for (ParameterTrainer p : params.values()) {
          for (NDArray g : p.gradients(scope)) {
            out.add(g.toType(DataType.FLOAT64, false).toDoubleArray());
          }
        }
      } finally {
        params.values().forEach(ParameterTrainer::close);
      }
    }
    return out;
  }

  /** What Trainer's view does: every product through the parameter's own training rule. */
  private static Weights view(Map<String, ParameterTrainer> params, NDManager scope, DataType compute) {
    return new Weights() {
      @Override
      public NDArray dense(String name) {
        return params.get(name).dense(compute, scope);
      }

      @Override
      public NDArray linear(String name, NDArray x) {
        return params.get(name).linear(x, compute, scope);
      }

      @Override
      public NDArray linear(String name, NDArray x, PaddedMatrix shape) {
        return params.get(name).linear(x, compute, scope, shape);
      }
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"full", "adapter", "lora"})
  void paddedMlpGivesTheUnpaddedLossAndGradients(String methodName) {
    List<double[]> plain = lossAndGradients(methodName, GemmAlignment.NONE);
    for (int multiple : new int[] {8, 64}) {
      List<double[]> padded = lossAndGradients(methodName, GemmAlignment.everywhere(multiple));
      assertEquals(plain.size(), padded.size());
      assertEquals(plain.get(0)[0], padded.get(0)[0], TOLERANCE, "loss at multiple " + multiple);
      double largest = 0;
      for (int i = 1; i < plain.size(); i++) {
        assertArrayEquals(plain.get(i), padded.get(i), TOLERANCE, "gradient " + i + " at multiple " + multiple);
        for (double g : plain.get(i)) {
          largest = Math.max(largest, Math.abs(g));
        }
      }
      assertEquals(true, largest > 1e-3, "the gradients compared are not all ~0: largest " + largest);
    }
  }

  @org.junit.jupiter.api.Test
  void evaluatingPlainWeightsPaddedGivesTheUnpaddedLoss() {
    try (NDManager root = NDManager.newBaseManager()) {
      Map<String, NDArray> w = ModelInit.initialize(MODEL, 5, root, DataType.FLOAT64);
      List<long[]> batches = List.of(tokens(0), tokens(1));
      double plain = Evaluator.meanLoss(new Llama(MODEL, null, GemmAlignment.NONE),
          scope -> Evaluator.plain(w, DataType.FLOAT64, scope), batches, 2, DataType.FLOAT64, root);
      double padded = Evaluator.meanLoss(new Llama(MODEL, null, GemmAlignment.everywhere(64)),
          scope -> Evaluator.plain(w, DataType.FLOAT64, scope), batches, 2, DataType.FLOAT64, root);
      assertEquals(plain, padded, TOLERANCE);
    }
  }

  /**
   * In fp16 the vocabulary (50 here) is padded as well, the padded logits dropped by the cast to fp32.
   * fp16 products are not exact, so this bounds the difference by fp16's resolution; the padded
   * columns add no term to any true output element, and on the CPU the difference is in fact 0.
   */
  @ParameterizedTest
  @ValueSource(strings = {"full", "adapter"})
  void paddedHeadAndMlpInFp16GiveTheUnpaddedLossAndGradients(String methodName) {
    List<double[]> plain = lossAndGradients(methodName, GemmAlignment.NONE, Precision.FP16);
    List<double[]> padded = lossAndGradients(methodName, GemmAlignment.everywhere(64), Precision.FP16);
    assertEquals(plain.get(0)[0], padded.get(0)[0], 1e-3, "loss");
    double worst = 0;
    for (int i = 1; i < plain.size(); i++) {
      for (int j = 0; j < plain.get(i).length; j++) {
        worst = Math.max(worst, Math.abs(plain.get(i)[j] - padded.get(i)[j]));
      }
    }
    assertEquals(0.0, worst, 1e-4, "largest gradient difference");
  }

  @ParameterizedTest
  @ValueSource(strings = {"full", "adapter"})
  void trainingPaddedFollowsTheUnpaddedTrajectoryAndKeepsTrueShapes(String methodName) {
    Map<String, double[]> plain = new LinkedHashMap<>();
    Map<String, double[]> padded = new LinkedHashMap<>();
    double[] plainStats = train(methodName, GemmAlignment.NONE, plain);
    double[] paddedStats = train(methodName, GemmAlignment.everywhere(64), padded);
    assertArrayEquals(plainStats, paddedStats, 1e-12, "loss and gradient norm of each step");
    assertEquals(plain.keySet(), padded.keySet());
    for (String name : plain.keySet()) {
      assertArrayEquals(plain.get(name), padded.get(name), 1e-12, name);
    }
  }

  /**
   * Three steps; returns each step's loss and gradient norm, and puts every effective weight and
   * optimizer-state array (what a checkpoint is written from) into {@code arrays}, after checking that
   * each weight has its parameter's true shape and each state array the unpadded run's.
   */
  private static double[] train(String methodName, GemmAlignment alignment, Map<String, double[]> arrays) {
    TrainConfig cfg = CONFIG.withMethod(method(methodName));
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(MODEL, 5, root, DataType.FLOAT64);
    double[] stats = new double[2 * (int) cfg.steps()];
    try (Trainer t = new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg, w, root)).alignGemms(alignment)) {
      for (int s = 0; s < cfg.steps(); s++) {
        Trainer.StepStats st = t.step(tokens(s));
        stats[2 * s] = st.loss();
        stats[2 * s + 1] = st.gradNorm();
      }
      try (NDManager scope = root.newSubManager()) {
        LinkedHashMap<String, NDArray> weights = t.effectiveWeights(scope);
        for (ParameterSpec p : MODEL.parameters()) {
          assertEquals(new Shape(p.shape()), weights.get(p.name()).getShape(), p.name());
          arrays.put(p.name(), weights.get(p.name()).toDoubleArray());
        }
        for (Map.Entry<String, NDArray> e : t.optimizerState(scope).entrySet()) {
          NDArray a = e.getValue().toType(DataType.FLOAT64, false);
          arrays.put(e.getKey() + " " + a.getShape(), a.toDoubleArray());
        }
      }
    }
    return stats;
  }
}
