package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.MergeRule;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.OrthogonalSlices;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import io.orthoslice.common.wire.Protocol;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The merge rules of a round, as the per-parameter change D the round makes to the shared weights:
 *
 * <ul>
 *   <li>projected matrix: {@code D = alpha w sum_k lift(B_k, P_k)} with the rule's weight w: 1 for
 *       SUM (ORTHOGONAL's own: the slices are pairwise orthogonal, so the K updates add up to one step
 *       of rank up to K r, docs/methods.md 7.6), 1/K for MEAN (INDEPENDENT's and SAME's own), times the
 *       rule's factor;
 *   <li>every other parameter, and every parameter in FULL mode: {@code D = mean_k(W_k) - W}, the
 *       mean of the workers' deltas (local SGD; averaging dense parameters is our assumption, 7.6);
 *       on a lossy wire the workers send the deltas themselves and {@code D = mean_k(D_k)}.
 * </ul>
 *
 * Only the slots that submitted contribute: a missing worker's slice is simply absent, the others
 * stay valid on their own.
 */
public final class RoundMerge {

  /** What one slot submitted, by wire name. */
  public record Contribution(int slot, Map<String, NDArray> tensors) {}

  private RoundMerge() {}

  public static String factorName(String param) {
    return Protocol.factorName(param);
  }

  /** Names and shapes a contribution must hold exactly, in parameter order. */
  public static LinkedHashMap<String, long[]> expectedShapes(LlamaConfig model, RoundMode mode, int rank) {
    LinkedHashMap<String, long[]> out = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      if (mode.projected() && p.role() == ParameterSpec.Role.PROJECTED) {
        out.put(factorName(p.name()), RoundPlan.side(p).reducedShape(p.rows(), p.cols(), rank));
      } else {
        out.put(p.name(), p.shape());
      }
    }
    return out;
  }

  /**
   * D per parameter (new arrays owned by {@code out}, the factors' type for projected matrices and
   * the weights' type otherwise).
   *
   * @param current the weights the round started from, by parameter name
   * @param alpha the adapter scale (W_eff = W + alpha lift(B, P))
   * @param rule sum or mean of the lifted factor updates
   */
  public static LinkedHashMap<String, NDArray> deltas(RoundPlan plan, Map<String, NDArray> current,
      List<Contribution> contributions, double alpha, MergeRule rule, NDManager out) {
    return deltas(plan, current, contributions, alpha, rule, false, out);
  }

  /** @param denseChanges whether the dense contributions are the workers' deltas, not their new values */
  public static LinkedHashMap<String, NDArray> deltas(RoundPlan plan, Map<String, NDArray> current,
      List<Contribution> contributions, double alpha, MergeRule rule, boolean denseChanges, NDManager out) {
    if (contributions.isEmpty()) {
      throw new IllegalArgumentException("a merge needs at least one contribution");
    }
    LinkedHashMap<String, NDArray> deltas = new LinkedHashMap<>();
    for (ParameterSpec p : plan.model().parameters()) {
      deltas.put(p.name(), delta(plan, p, current, contributions, alpha, rule, denseChanges, out));
    }
    return deltas;
  }

  /** Whether {@code p}'s change needs the round's starting weights (dense ones do; a lifted factor does not). */
  public static boolean needsWeights(RoundPlan plan, ParameterSpec p) {
    return !(plan.mode().projected() && p.role() == ParameterSpec.Role.PROJECTED);
  }

  /**
   * D of one parameter (a new array owned by {@code out}); {@code current} and every contribution
   * need hold only this parameter's tensors.
   */
  public static NDArray delta(RoundPlan plan, ParameterSpec p, Map<String, NDArray> current,
      List<Contribution> contributions, double alpha, MergeRule rule, boolean denseChanges, NDManager out) {
    if (contributions.isEmpty()) {
      throw new IllegalArgumentException("a merge needs at least one contribution");
    }
    try (NDManager scope = out.newSubManager()) {
      NDArray d = needsWeights(plan, p)
          ? denseDelta(p, current, contributions, denseChanges, scope)
          : projectedDelta(plan, p, contributions, alpha, rule, scope);
      d.attach(out);
      return d;
    }
  }

  private static NDArray projectedDelta(RoundPlan plan, ParameterSpec p, List<Contribution> cs, double alpha,
      MergeRule rule, NDManager scope) {
    Side side = RoundPlan.side(p);
    int d = RoundPlan.dimension(p);
    List<NDArray> factors = new ArrayList<>();
    List<NDArray> projectors = new ArrayList<>();
    for (Contribution c : cs) {
      NDArray a = require(c, factorName(p.name()));
      NDArray local = a.duplicate();
      local.attach(scope);
      factors.add(local);
      // P in the factor's type: the worker trained W + alpha lift(B, P) with P in its master type.
      // float32 (the wire's factors): the plan's narrowed slice, made once per plan, often ahead of the merge.
      projectors.add(a.getDataType() == DataType.FLOAT32
          ? Projector.toNDArray(scope, plan.floatSlice(p, c.slot()), d, plan.rank())
          : Projector.toNDArray(scope, plan.slice(p, c.slot()), d, plan.rank(), a.getDataType()));
    }
    NDArray sum = OrthogonalSlices.mergeOrthogonal(factors, projectors, side);
    double scale = alpha * rule.weight(factors.size());
    return scale == 1.0 ? sum : sum.muli(scale);
  }

  private static NDArray denseDelta(ParameterSpec p, Map<String, NDArray> current, List<Contribution> cs,
      boolean changes, NDManager scope) {
    NDArray w = current.get(p.name());
    if (w == null) {
      throw new IllegalArgumentException("current weights lack " + p.name());
    }
    NDArray sum = null;
    for (Contribution c : cs) {
      NDArray v = require(c, p.name());
      if (sum == null) {
        // duplicate(): a same-type toType() may share the caller's buffer, and addi would then write into it.
        sum = v.getDataType() == w.getDataType() ? v.duplicate() : v.toType(w.getDataType(), true);
        sum.attach(scope);
      } else if (v.getDataType() == w.getDataType()) {
        sum.addi(v); // reads v only: one copy per parameter, not one per contribution
      } else {
        try (NDArray cast = v.toType(w.getDataType(), true)) {
          sum.addi(cast);
        }
      }
    }
    return changes ? sum.divi(cs.size()) : sum.divi(cs.size()).subi(w);
  }

  private static NDArray require(Contribution c, String name) {
    NDArray a = c.tensors().get(name);
    if (a == null) {
      throw new IllegalArgumentException("slot " + c.slot() + " contributed no " + name);
    }
    return a;
  }
}
