package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.MergeRule;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RoundMergeTest {

  // hidden 8, intermediate 16: every projected matrix spans d = 8 (q,k,v,o 8x8; gate/up 16x8 RIGHT; down 8x16 LEFT)
  static final LlamaConfig SMALL = new LlamaConfig(12, 8, 16, 1, 2, 2, 16, 1e-6, 10000.0, false, 0.02);

  private static NDArray random(NDManager m, Random rng, long... shape) {
    double[] v = new double[(int) new Shape(shape).size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextGaussian();
    }
    return m.create(v, new Shape(shape));
  }

  /** Each worker's share of D: B_k = D P_k (RIGHT) or B_k = P_k^T D (LEFT). */
  private static List<RoundMerge.Contribution> shares(RoundPlan plan, Map<String, NDArray> dense, Map<String, NDArray> w,
      NDManager m) {
    List<RoundMerge.Contribution> cs = new ArrayList<>();
    for (int k = 0; k < plan.participants(); k++) {
      Map<String, NDArray> t = new HashMap<>();
      for (ParameterSpec p : SMALL.parameters()) {
        if (p.role() == ParameterSpec.Role.PROJECTED) {
          Side side = RoundPlan.side(p);
          NDArray pk = Projector.toNDArray(m, plan.slice(p, k), RoundPlan.dimension(p), plan.rank(),
              ai.djl.ndarray.types.DataType.FLOAT64);
          t.put(RoundMerge.factorName(p.name()), side.project(dense.get(p.name()), pk));
        } else {
          t.put(p.name(), w.get(p.name()));
        }
      }
      cs.add(new RoundMerge.Contribution(k, t));
    }
    return cs;
  }

  private static double maxAbsDiff(NDArray a, NDArray b) {
    return a.sub(b).abs().max().getDouble();
  }

  @Test
  void orthogonalSlicesWithFullRankReproduceTheDenseUpdateExactly() {
    try (NDManager m = NDManager.newBaseManager()) {
      Random rng = new Random(3);
      RoundPlan plan = RoundPlan.of(SMALL, RoundMode.ORTHOGONAL, 9, 2, 2, 4); // K r = 8 = d
      Map<String, NDArray> w = new LinkedHashMap<>();
      Map<String, NDArray> dense = new LinkedHashMap<>();
      for (ParameterSpec p : SMALL.parameters()) {
        w.put(p.name(), random(m, rng, p.shape()));
        dense.put(p.name(), random(m, rng, p.shape()));
      }
      Map<String, NDArray> d = RoundMerge.deltas(plan, w, shares(plan, dense, w, m), 1.0, MergeRule.SUM, m);
      for (ParameterSpec p : RoundPlan.projected(SMALL)) {
        assertEquals(0.0, maxAbsDiff(d.get(p.name()), dense.get(p.name())), 1e-12, p.name());
      }
    }
  }

  @Test
  void fewerSlicesThanTheDimensionMergeToTheProjectionOntoTheirUnion() {
    try (NDManager m = NDManager.newBaseManager()) {
      Random rng = new Random(4);
      RoundPlan plan = RoundPlan.of(SMALL, RoundMode.ORTHOGONAL, 9, 0, 3, 2); // K r = 6 < 8
      Map<String, NDArray> w = new LinkedHashMap<>();
      Map<String, NDArray> dense = new LinkedHashMap<>();
      for (ParameterSpec p : SMALL.parameters()) {
        w.put(p.name(), random(m, rng, p.shape()));
        dense.put(p.name(), random(m, rng, p.shape()));
      }
      Map<String, NDArray> d = RoundMerge.deltas(plan, w, shares(plan, dense, w, m), 1.0, MergeRule.SUM, m);
      for (ParameterSpec p : RoundPlan.projected(SMALL)) {
        int dim = RoundPlan.dimension(p);
        double[] q = new double[dim * 6];
        for (int k = 0; k < 3; k++) {
          double[] s = plan.slice(p, k);
          for (int i = 0; i < dim; i++) {
            System.arraycopy(s, i * 2, q, i * 6 + k * 2, 2);
          }
        }
        NDArray qa = m.create(q, new Shape(dim, 6));
        NDArray qqt = qa.matMul(qa.transpose());
        NDArray expected = RoundPlan.side(p) == Side.RIGHT ? dense.get(p.name()).matMul(qqt)
            : qqt.matMul(dense.get(p.name()));
        assertEquals(0.0, maxAbsDiff(d.get(p.name()), expected), 1e-12, p.name());
        // and it is not D itself: a rank-6 projection of a generic 8-dim update loses something
        assertEquals(true, maxAbsDiff(d.get(p.name()), dense.get(p.name())) > 1e-3, p.name());
      }
    }
  }

  @Test
  void denseParametersAreAveragedAndMeanModesDivideByK() {
    try (NDManager m = NDManager.newBaseManager()) {
      Random rng = new Random(5);
      RoundPlan plan = RoundPlan.of(SMALL, RoundMode.SAME, 9, 0, 2, 4);
      Map<String, NDArray> w = new LinkedHashMap<>();
      List<RoundMerge.Contribution> cs = new ArrayList<>();
      for (ParameterSpec p : SMALL.parameters()) {
        w.put(p.name(), random(m, rng, p.shape()));
      }
      List<Map<String, NDArray>> sent = new ArrayList<>();
      for (int k = 0; k < 2; k++) {
        Map<String, NDArray> t = new HashMap<>();
        for (var e : RoundMerge.expectedShapes(SMALL, RoundMode.SAME, 4).entrySet()) {
          t.put(e.getKey(), random(m, rng, e.getValue()));
        }
        sent.add(t);
        cs.add(new RoundMerge.Contribution(k, t));
      }
      Map<String, NDArray> d = RoundMerge.deltas(plan, w, cs, 0.5, MergeRule.MEAN, m);
      ParameterSpec emb = SMALL.parameters().get(0);
      NDArray meanNew = sent.get(0).get(emb.name()).add(sent.get(1).get(emb.name())).div(2);
      assertEquals(0.0, maxAbsDiff(d.get(emb.name()), meanNew.sub(w.get(emb.name()))), 1e-12);
      ParameterSpec q = RoundPlan.projected(SMALL).get(0);
      NDArray p0 = Projector.toNDArray(m, plan.slice(q, 0), 8, 4, ai.djl.ndarray.types.DataType.FLOAT64);
      Side side = RoundPlan.side(q);
      String f = RoundMerge.factorName(q.name());
      NDArray expected = side.lift(sent.get(0).get(f).add(sent.get(1).get(f)), p0).mul(0.5 / 2);
      assertEquals(0.0, maxAbsDiff(d.get(q.name()), expected), 1e-12);
    }
  }

  @Test
  void outerNesterovWithoutMomentumIsThePlainMergeAndWithMomentumAccumulates() {
    OuterNesterov plain = new OuterNesterov(1.0, 0.0);
    assertEquals(false, plain.active());
    float[] out = plain.apply("w", new float[] {1f, 2f}, new float[] {0.5f, -1f});
    assertEquals(1.5f, out[0]);
    assertEquals(1f, out[1]);
    OuterNesterov nesterov = new OuterNesterov(1.0, 0.5);
    float[] first = nesterov.apply("w", new float[] {0f}, new float[] {1f}); // m = 1, step 1 + 0.5
    assertEquals(1.5f, first[0]);
    float[] second = nesterov.apply("w", new float[] {0f}, new float[] {1f}); // m = 1.5, step 1 + 0.75
    assertEquals(1.75f, second[0]);
  }
}
