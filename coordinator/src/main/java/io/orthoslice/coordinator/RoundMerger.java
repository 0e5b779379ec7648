package io.orthoslice.coordinator;

import io.orthoslice.common.round.HostMerge;
import io.orthoslice.common.wire.FactoredUpdate;
import io.orthoslice.common.round.MergeRule;
import io.orthoslice.common.round.OuterNesterov;
import io.orthoslice.common.round.RoundPlan;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns a round's updates into the next weights: the host merge of {@code common/round} (sum of the
 * slices' lifts or mean, by mode; dense parameters averaged), then the outer optimizer (DiLoCo's
 * Nesterov step; the identity at outer lr 1 without momentum). Holds the outer optimizer's state;
 * used on the coordinator's driver thread only.
 */
final class RoundMerger {

  /** The merged weights and the updates' float tensors by slot (the factored broadcast reuses them). */
  record Merged(WeightsSnapshot after, Map<Integer, Map<String, float[]>> bySlot) {}

  private final double alpha;
  private final MergeRule rule;
  private final io.orthoslice.common.round.RoundMode mode;
  private final OuterNesterov outer;

  RoundMerger(RunSettings settings, Map<String, float[]> outerState) {
    this.alpha = settings.alpha();
    this.rule = settings.rules().merge();
    this.mode = settings.mode();
    this.outer = new OuterNesterov(settings.outerLr(), settings.outerMomentum());
    outer.restore(outerState);
  }

  /** Merges non-empty {@code subs} into {@code before}; the result is version {@code before + 1}. */
  Merged merge(RoundPlan plan, WeightsSnapshot before, List<Submission> subs) {
    Map<Integer, Map<String, float[]>> bySlot = new TreeMap<>();
    for (Submission s : subs) {
      Map<String, float[]> t = new HashMap<>();
      s.tensors().forEach((name, tensor) -> t.put(name, tensor.toFloats()));
      bySlot.put(s.slot(), t);
    }
    Map<String, float[]> deltas = HostMerge.deltas(plan, before.values(), bySlot, alpha, rule);
    LinkedHashMap<String, float[]> next = new LinkedHashMap<>();
    deltas.forEach((name, d) -> next.put(name, outer.apply(name, before.values().get(name), d)));
    return new Merged(new WeightsSnapshot(before.version() + 1, next), bySlot);
  }

  /** What closing a round produced: the new weights, their factored form (or null), the round's result. */
  record Outcome(WeightsSnapshot after, FactoredUpdate update, RoundResult result) {}

  /**
   * The MERGING phase's work: the merge of {@code subs} (none: the weights stay), its factored form
   * when workers can rebuild it, and the evaluated result.
   */
  Outcome close(OpenRound r, List<Submission> subs, Broadcasts broadcasts, RoundEvaluation evaluation,
      double previousValidationLoss) {
    WeightsSnapshot before = broadcasts.current();
    long t0 = System.nanoTime();
    WeightsSnapshot after = before;
    FactoredUpdate update = null;
    if (!subs.isEmpty()) {
      Merged m = merge(r.plan, before, subs);
      after = m.after();
      if (mode.projected() && plainMerge()) {
        update = broadcasts.factored(r, m.bySlot(), after, before.version());
      }
    }
    double mergeSeconds = (System.nanoTime() - t0) / 1e9;
    return new Outcome(after, update, evaluation.result(r, subs, after, update, previousValidationLoss, mergeSeconds));
  }

  /** Whether workers can rebuild a merge from its factors (not once the outer optimizer reshapes it). */
  boolean plainMerge() {
    return !outer.active();
  }

  /** The outer optimizer's buffers, for a checkpoint. */
  Map<String, float[]> outerState() {
    return outer.state();
  }
}
