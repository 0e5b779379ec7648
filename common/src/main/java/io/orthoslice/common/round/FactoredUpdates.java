package io.orthoslice.common.round;

import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.wire.FactoredUpdate;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.RunDescription;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A worker's rebuild of a factored round update: the coordinator's own merge ({@link HostMerge},
 * the same rule, host float32) on the same inputs, so the projected matrices come out as the
 * coordinator's do; the dense parameters travel as their new values.
 */
public final class FactoredUpdates {

  private FactoredUpdates() {}

  /**
   * The weights of {@code u.toVersion()} from {@code weights} (those of {@code u.fromVersion()}), or
   * empty when the result is not bit for bit the coordinator's (another BLAS or device rounds
   * differently): the caller then fetches the weights, so workers never drift apart.
   *
   * @param trainedPlan the plan the worker last trained on, reused when it is the update's (it holds
   *     every slot's projectors); null to draw it
   * @throws IllegalArgumentException when the update lacks a tensor its merged slots need
   */
  public static Optional<Map<String, float[]>> apply(RunDescription run, Map<String, float[]> weights,
      FactoredUpdate u, RoundPlan trainedPlan) {
    RoundPlan plan = trainedPlan != null && trainedPlan.draw() == u.projectionDraw()
        && trainedPlan.runSeed() == u.runSeed() && trainedPlan.participants() == u.participants()
        ? trainedPlan
        : RoundPlan.of(run.model(), run.config().roundMode(), u.runSeed(), u.projectionDraw(), u.participants(), run.config().rank());
    Map<Integer, Map<String, float[]>> bySlot = new TreeMap<>();
    for (int slot : u.mergedSlots()) {
      Map<String, float[]> t = new HashMap<>();
      for (ParameterSpec p : run.model().parameters()) {
        boolean projected = p.role() == ParameterSpec.Role.PROJECTED;
        String factor = RoundMerge.factorName(p.name());
        String wire = projected ? Protocol.slotFactorName(factor, slot) : p.name();
        float[] v = u.tensors().get(wire);
        if (v == null) {
          throw new IllegalArgumentException("factored update of round " + (u.round() + 1) + " lacks " + wire);
        }
        t.put(projected ? factor : p.name(), v);
      }
      bySlot.put(slot, t);
    }
    Map<String, float[]> d = HostMerge.deltas(plan, weights, bySlot, run.config().scale(), run.config().rules().merge());
    OuterNesterov plain = new OuterNesterov(1.0, 0.0); // the coordinator's step when it broadcasts factors
    Map<String, float[]> out = new LinkedHashMap<>();
    for (ParameterSpec p : run.model().parameters()) {
      out.put(p.name(), p.role() == ParameterSpec.Role.PROJECTED
          ? plain.apply(p.name(), weights.get(p.name()), d.get(p.name())) : u.tensors().get(p.name()));
    }
    return WeightsChecksum.of(run.model(), out) == u.weightsChecksum() ? Optional.of(out) : Optional.empty();
  }
}
