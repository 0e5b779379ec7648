package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.MergeRule;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.projection.ProjectionKind;
import io.orthoslice.common.projection.ProjectionSource;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import io.orthoslice.common.method.AdapterMatrix;
import io.orthoslice.common.method.DenseParameter;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.train.ModelInit;
import io.orthoslice.common.method.ParameterTrainer;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.train.Trainer;
import io.orthoslice.common.method.TrainingMethods;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The merge of factors that workers really trained (float64, the training loop a worker runs), the
 * tests that would catch a wrong merge: with one worker the merge reproduces single-process adapter
 * training on the same P; with one worker moving among K, its slice lands in the weights exactly
 * as it trained it; and the orthogonal sum is the projection of the workers' summed dense updates onto
 * their slices.
 */
class MergeOfTrainedSlicesTest {

  private static final LlamaConfig MODEL = LlamaConfig.preset("tiny").withVocabSize(40);
  private static final int H = 6;
  private static final int RANK = 8;
  private static final double ALPHA = 0.5; // a scale != 1 so a merge that forgets it fails

  /** The workers' configuration: adapters that never merge within the round, float64. */
  private static TrainConfig config() {
    MethodSpec adapter = new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", RANK, Integer.MAX_VALUE,
        MethodSpec.StatePolicy.RESET, MethodSpec.Optimizer.ADAMW, "fp32", ALPHA);
    return TrainConfig.defaults(100).withBatch(16, 2, 1).withOptim(3e-3, 3e-4, 0.1, 1.0)
        .withPrecision(Precision.FP64).withMethod(adapter);
  }

  private static long[] batch(long seed) {
    PortableRandom rng = new PortableRandom(seed);
    long[] t = new long[2 * 17];
    for (int i = 0; i < t.length; i++) {
      t[i] = (long) (rng.nextDouble() * MODEL.vocabSize());
    }
    return t;
  }

  /** W0, float64, owned by {@code m}. */
  private static Map<String, NDArray> start(NDManager m) {
    return ModelInit.initialize(MODEL, 11, m, DataType.FLOAT64);
  }

  private static Map<String, NDArray> copy(Map<String, NDArray> w, NDManager m) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    w.forEach((k, v) -> {
      NDArray c = v.duplicate();
      c.attach(m);
      out.put(k, c);
    });
    return out;
  }

  /** H local steps from W0 with projectors from {@code source}; data differs per {@code dataSeed}. */
  private static Trainer train(Map<String, NDArray> w0, ProjectionSource source, long dataSeed) {
    NDManager root = NDManager.newBaseManager();
    Trainer t = new Trainer(MODEL, config(), root, TrainingMethods.build(MODEL, config(), copy(w0, root), root,
        source));
    t.startAt(10);
    for (int i = 0; i < H; i++) {
      t.step(batch(dataSeed * 1000 + i));
    }
    return t;
  }

  /** What a worker submits: each projected matrix's factor, every other parameter's new value. */
  private static RoundMerge.Contribution submitted(int slot, Trainer t) {
    Map<String, NDArray> out = new HashMap<>();
    for (ParameterTrainer p : t.parameters().values()) {
      if (p instanceof AdapterMatrix a) {
        out.put(RoundMerge.factorName(p.spec().name()), a.factor());
      } else {
        out.put(p.spec().name(), ((DenseParameter) p).weight());
      }
    }
    return new RoundMerge.Contribution(slot, out);
  }

  /** A contribution that did not move: zero factors, W0's dense values. */
  private static RoundMerge.Contribution still(int slot, Map<String, NDArray> w0, NDManager m) {
    Map<String, NDArray> out = new HashMap<>();
    RoundMerge.expectedShapes(MODEL, RoundMode.ORTHOGONAL, RANK).forEach((name, shape) -> out.put(name,
        w0.containsKey(name) ? w0.get(name) : m.zeros(new ai.djl.ndarray.types.Shape(shape), DataType.FLOAT64)));
    return new RoundMerge.Contribution(slot, out);
  }

  private static double relative(NDArray a, NDArray b) {
    return a.sub(b).norm().getDouble() / b.norm().getDouble();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = RoundMode.class, names = {"ORTHOGONAL", "INDEPENDENT", "SAME"})
  void withOneWorkerTheMergeReproducesSingleProcessAdapterTrainingOnTheSameP(RoundMode mode) {
    RoundPlan plan = RoundPlan.of(MODEL, mode, 42, 3, 1, RANK);
    // Orthogonal's one slice is the standalone run's own P for that draw; for the baselines the
    // standalone run is handed the slot's P.
    ProjectionSource standalone = mode == RoundMode.ORTHOGONAL
        ? ProjectionSource.standalone(ProjectionKind.ORTHOGONAL, 42)
        : new RoundProjections(plan, 0);
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> w0 = start(m);
      try (Trainer single = trainAtDraw(w0, standalone, 3); Trainer worker = train(w0, new RoundProjections(plan, 0), 1)) {
        Map<String, NDArray> d = RoundMerge.deltas(plan, w0, List.of(submitted(0, worker)), ALPHA,
            MergeRule.byConstruction(mode), m);
        LinkedHashMap<String, NDArray> expected = single.effectiveWeights(m);
        for (ParameterSpec p : MODEL.parameters()) {
          double err = relative(w0.get(p.name()).add(d.get(p.name())), expected.get(p.name()));
          assertTrue(err < 1e-12, mode + " " + p.name() + ": relative error " + err);
        }
      }
    }
  }

  /** A standalone adapter run whose first projector is its re-draw {@code draw}, data as worker 1's. */
  private static Trainer trainAtDraw(Map<String, NDArray> w0, ProjectionSource source, long draw) {
    ProjectionSource atDraw = new ProjectionSource() {
      @Override
      public double[] projection(ParameterSpec spec, Side side, int rank, long redraw, double[] gradient) {
        return source.projection(spec, side, rank, redraw + draw, gradient);
      }

      @Override
      public boolean needsGradient() {
        return false;
      }

      @Override
      public long persistedBytes(int d, int rank) {
        return Long.BYTES;
      }
    };
    return train(w0, atDraw, 1);
  }

  @Test
  void withOneWorkerMovingItsSliceLandsInTheWeightsExactlyAsItTrainedIt() {
    int k = 3;
    int moving = 1;
    RoundPlan plan = RoundPlan.of(MODEL, RoundMode.ORTHOGONAL, 42, 0, k, RANK);
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> w0 = start(m);
      try (Trainer worker = train(w0, new RoundProjections(plan, moving), 5)) {
        List<RoundMerge.Contribution> cs = new ArrayList<>();
        for (int slot = 0; slot < k; slot++) {
          cs.add(slot == moving ? submitted(slot, worker) : still(slot, w0, m));
        }
        Map<String, NDArray> sum = RoundMerge.deltas(plan, w0, cs, ALPHA, MergeRule.SUM, m);
        Map<String, NDArray> mean = RoundMerge.deltas(plan, w0, cs, ALPHA, MergeRule.MEAN, m);
        LinkedHashMap<String, NDArray> trained = worker.effectiveWeights(m);
        for (ParameterSpec p : RoundPlan.projected(MODEL)) {
          NDArray own = trained.get(p.name()).sub(w0.get(p.name())); // alpha B_k P_k^T, as the worker trained it
          assertTrue(relative(sum.get(p.name()), own) < 1e-12, "sum " + p.name());
          assertTrue(relative(mean.get(p.name()), own.div(k)) < 1e-12, "mean " + p.name());
        }
        // Dense parameters are averaged whatever the rule: the mover's change counts 1/K.
        ParameterSpec emb = MODEL.parameters().get(0);
        NDArray moved = trained.get(emb.name()).sub(w0.get(emb.name())).div(k);
        assertTrue(relative(sum.get(emb.name()), moved) < 1e-12, "dense " + emb.name());
      }
    }
  }

  @Test
  void theOrthogonalSumIsTheSummedDenseUpdatesProjectedOntoEachSlice() {
    int k = 4;
    RoundPlan plan = RoundPlan.of(MODEL, RoundMode.ORTHOGONAL, 42, 2, k, RANK); // K r = 32 < d = 64
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> w0 = start(m);
      List<Trainer> workers = new ArrayList<>();
      try {
        List<RoundMerge.Contribution> cs = new ArrayList<>();
        for (int slot = 0; slot < k; slot++) {
          Trainer t = train(w0, new RoundProjections(plan, slot), 10 + slot);
          workers.add(t);
          cs.add(submitted(slot, t));
        }
        Map<String, NDArray> d = RoundMerge.deltas(plan, w0, cs, ALPHA, MergeRule.SUM, m);
        for (ParameterSpec p : RoundPlan.projected(MODEL)) {
          NDArray total = null; // S = sum_j (W_eff,j - W0)
          for (Trainer t : workers) {
            NDArray dj = t.effectiveWeights(m).get(p.name()).sub(w0.get(p.name()));
            total = total == null ? dj : total.add(dj);
          }
          Side side = RoundPlan.side(p);
          NDArray projected = null; // sum_k S P_k P_k^T (right) or P_k P_k^T S (left)
          for (int slot = 0; slot < k; slot++) {
            NDArray pk = Projector.toNDArray(m, plan.slice(p, slot), RoundPlan.dimension(p), RANK, DataType.FLOAT64);
            NDArray onto = side.lift(side.project(total, pk), pk);
            projected = projected == null ? onto : projected.add(onto);
          }
          double err = relative(d.get(p.name()), projected);
          assertTrue(err < 1e-12, p.name() + ": relative error " + err);
          // Which is also the plain sum of the workers' changes: each moved only within its own slice.
          assertTrue(relative(d.get(p.name()), total) < 1e-12, p.name() + ": a worker moved outside its slice");
        }
      } finally {
        workers.forEach(Trainer::close);
      }
    }
  }
}
