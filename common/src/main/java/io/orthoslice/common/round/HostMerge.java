package io.orthoslice.common.round;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.tensor.HostArrays;
import java.util.List;
import java.util.Map;

/**
 * {@link RoundMerge} of one parameter from host float32 arrays, as the coordinator holds its weights
 * and receives its updates, computed on the device of {@code m} (the coordinator's {@code --device}):
 * only this parameter's contributions go there, its starting weights only when its change needs them,
 * and its change D comes back. One parameter at a time, so the merge never holds a second copy of the
 * model.
 */
public final class HostMerge {

  private HostMerge() {}

  /**
   * @param weight the parameter's starting weights
   * @param bySlot each merged slot's tensor of this parameter (by wire name, see
   *     {@link RoundMerge#expectedShapes}), in slot order
   * @param denseChanges whether a dense contribution is a delta (a lossy wire), not a value
   * @return D of this parameter
   */
  public static float[] delta(RoundPlan plan, ParameterSpec p, float[] weight, Map<Integer, float[]> bySlot,
      double alpha, MergeRule rule, boolean denseChanges, NDManager m) {
    String wire = RoundMerge.needsWeights(plan, p) ? p.name() : RoundMerge.factorName(p.name());
    long[] shape = RoundMerge.needsWeights(plan, p) ? p.shape()
        : RoundPlan.side(p).reducedShape(p.rows(), p.cols(), plan.rank());
    try (NDManager scope = m.newSubManager()) {
      Map<String, NDArray> current = RoundMerge.needsWeights(plan, p)
          ? Map.of(p.name(), HostArrays.of(scope, weight, new Shape(p.shape()))) : Map.of();
      List<RoundMerge.Contribution> cs = bySlot.entrySet().stream()
          .map(e -> new RoundMerge.Contribution(e.getKey(), Map.of(wire, HostArrays.of(scope, e.getValue(),
              new Shape(shape))))).toList();
      return RoundMerge.delta(plan, p, current, cs, alpha, rule, denseChanges, scope).toFloatArray();
    }
  }
}
