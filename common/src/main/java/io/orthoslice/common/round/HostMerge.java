package io.orthoslice.common.round;

import io.orthoslice.common.config.MergeRule;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.ParameterSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link RoundMerge} over host float32 arrays, as the coordinator holds its weights and as a worker
 * applies a factored round update: both run this same code on the same inputs, so they compute
 * the same deltas.
 */
public final class HostMerge {

  private HostMerge() {}

  /**
   * @param weights the round's starting weights by parameter name
   * @param bySlot each merged slot's tensors by wire name (see {@link RoundMerge#expectedShapes})
   * @return D by parameter name
   */
  public static LinkedHashMap<String, float[]> deltas(RoundPlan plan, Map<String, float[]> weights,
      Map<Integer, Map<String, float[]>> bySlot, double alpha, MergeRule rule) {
    return deltas(plan, weights, bySlot, alpha, rule, false);
  }

  /** @param denseChanges whether the dense tensors of {@code bySlot} are deltas (a lossy wire), not values */
  public static LinkedHashMap<String, float[]> deltas(RoundPlan plan, Map<String, float[]> weights,
      Map<Integer, Map<String, float[]>> bySlot, double alpha, MergeRule rule, boolean denseChanges) {
    Map<String, long[]> shapes = RoundMerge.expectedShapes(plan.model(), plan.mode(), plan.rank());
    LinkedHashMap<String, float[]> out = new LinkedHashMap<>();
    // On the CPU wherever the process trains: the coordinator and the workers must round alike.
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Map<String, NDArray> current = new HashMap<>();
      for (ParameterSpec p : plan.model().parameters()) {
        current.put(p.name(), HostArrays.of(m, weights.get(p.name()), new Shape(p.shape())));
      }
      List<RoundMerge.Contribution> cs = new ArrayList<>();
      for (Map.Entry<Integer, Map<String, float[]>> e : bySlot.entrySet()) {
        Map<String, NDArray> t = new HashMap<>();
        for (Map.Entry<String, float[]> v : e.getValue().entrySet()) {
          long[] shape = shapes.get(v.getKey());
          if (shape == null) {
            throw new IllegalArgumentException("slot " + e.getKey() + " sent unknown tensor " + v.getKey());
          }
          t.put(v.getKey(), HostArrays.of(m, v.getValue(), new Shape(shape)));
        }
        cs.add(new RoundMerge.Contribution(e.getKey(), t));
      }
      for (Map.Entry<String, NDArray> d : RoundMerge.deltas(plan, current, cs, alpha, rule, denseChanges, m).entrySet()) {
        out.put(d.getKey(), d.getValue().toFloatArray());
      }
    }
    return out;
  }
}
