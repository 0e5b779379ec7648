package io.orthoslice.common.train;

import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.tensor.HostArrays;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The memory scopes of a step change no gradient: a block's intermediates are closed as soon as the
 * block is done, and autograd keeps what it saved; and recomputing the activations in backward
 * (activation checkpointing) follows the same trajectory.
 */
class ScopedActivationsTest {

  private static final LlamaConfig MODEL = LlamaConfig.preset("tiny").withVocabSize(40);

  private static long[] tokens(long seed, int n) {
    PortableRandom rng = new PortableRandom(seed);
    long[] t = new long[n];
    for (int i = 0; i < t.length; i++) {
      t[i] = (long) (rng.nextDouble() * MODEL.vocabSize());
    }
    return t;
  }

  /** dL/dW of every parameter (float64); with {@code scribble}, freed memory is overwritten before backward. */
  private static Map<String, double[]> gradients(boolean scribble) {
    Map<String, double[]> out = new LinkedHashMap<>();
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> w = ModelInit.initialize(MODEL, 3, m, DataType.FLOAT64);
      w.values().forEach(a -> a.setRequiresGradient(true));
      NDArray batch = HostArrays.of(m, tokens(5, 4 * 33), new Shape(4, 33));
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        NDArray loss = new Llama(MODEL).loss(Evaluator.plain(w, DataType.FLOAT64, m), batch.get(new NDIndex(":, :-1")),
            batch.get(new NDIndex(":, 1:")), DataType.FLOAT64);
        if (scribble) {
          // Every block scope is closed by now. Were any saved tensor freed with its handle, these
          // allocations would take its memory and the backward would read huge values.
          List<NDArray> junk = new ArrayList<>();
          for (int i = 0; i < 64; i++) {
            junk.add(m.full(new Shape(4, 32, 64), 1e30f, DataType.FLOAT64));
          }
          junk.forEach(NDArray::close);
        }
        gc.backward(loss);
      }
      w.forEach((k, v) -> out.put(k, v.getGradient().toDoubleArray()));
    }
    return out;
  }

  @Test
  void closingEachBlocksIntermediatesLeavesTheGradientsUnchanged() {
    Map<String, double[]> plain = gradients(false);
    Map<String, double[]> scribbled = gradients(true);
    for (String name : plain.keySet()) {
      double[] a = plain.get(name);
      double[] b = scribbled.get(name);
      for (int i = 0; i < a.length; i++) {
        assertTrue(a[i] == b[i], name + "[" + i + "]: " + a[i] + " vs " + b[i]);
      }
    }
  }

  private static LinkedHashMap<String, double[]> train(MethodSpec method, boolean recompute) {
    TrainConfig cfg = TrainConfig.defaults(4).withBatch(16, 2, 2).withOptim(3e-3, 3e-4, 0.1, 1.0)
        .withPrecision(Precision.FP64).withMethod(method);
    NDManager root = NDManager.newBaseManager();
    LinkedHashMap<String, double[]> out = new LinkedHashMap<>();
    try (Trainer t = new Trainer(MODEL, cfg, root, TrainingMethods.build(MODEL, cfg,
        ModelInit.initialize(MODEL, 11, root, DataType.FLOAT64), root)).recomputeActivations(recompute)) {
      for (int s = 0; s < 4; s++) {
        t.step(tokens(100 + s, 2 * 2 * 17));
      }
      try (NDManager scope = root.newSubManager()) {
        t.effectiveWeights(scope).forEach((k, v) -> out.put(k, v.toDoubleArray()));
      }
    }
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"full", "adapter"})
  void recomputingTheActivationsInBackwardFollowsTheSameTrajectory(String method) {
    MethodSpec m = method.equals("full") ? MethodSpec.FULL_RANK : new MethodSpec(MethodSpec.Method.ADAPTER,
        "orthogonal", 8, 200, MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 1.0);
    LinkedHashMap<String, double[]> stored = train(m, false);
    LinkedHashMap<String, double[]> recomputed = train(m, true);
    double diff = 0;
    double norm = 0;
    for (String name : stored.keySet()) {
      double[] a = stored.get(name);
      double[] b = recomputed.get(name);
      for (int i = 0; i < a.length; i++) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        norm += a[i] * a[i];
      }
    }
    assertTrue(Math.sqrt(diff / norm) < 1e-12, method + ": relative difference " + Math.sqrt(diff / norm));
  }
}
