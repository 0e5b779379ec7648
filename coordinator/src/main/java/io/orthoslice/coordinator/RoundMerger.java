package io.orthoslice.coordinator;

import io.orthoslice.common.config.RoundMode;

import io.orthoslice.common.round.DeltaBroadcast;
import io.orthoslice.common.round.HostMerge;
import io.orthoslice.common.round.WeightsChecksum;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.wire.FactoredUpdate;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.round.OuterNesterov;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.RoundPlan;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns a round's updates into the next weights: the host merge of {@code common/round} (sum of the
 * slices' lifts or mean, by mode; dense parameters averaged), then the outer optimizer (DiLoCo's
 * Nesterov step; the identity at outer lr 1 without momentum). On a lossy wire the updates are
 * decoded first (dense tensors are then the workers' deltas) and the result is what the
 * {@link DeltaBroadcast} lets every worker rebuild. Holds the outer optimizer's state and the
 * broadcast's error feedback; used on the coordinator's driver thread only.
 */
final class RoundMerger {

  /** The merged weights and the updates' float tensors by slot (the factored broadcast reuses them). */
  record Merged(WeightsSnapshot after, Map<Integer, Map<String, float[]>> bySlot) {}

  private final double alpha;
  private final MergeRule rule;
  private final io.orthoslice.common.config.RoundMode mode;
  private final OuterNesterov outer;
  private final boolean lossy;
  private final DeltaBroadcast broadcast; // null on the f32 wire
  private final Map<String, long[]> shapes; // of every tensor an update carries, by wire name

  /**
   * @param state the outer optimizer's buffers and, on a lossy wire, the broadcast's residuals
   *     (names under {@link #BROADCAST_RESIDUAL}), as {@link #state} gave them
   */
  RoundMerger(RunSettings settings, Map<String, float[]> state) {
    this.alpha = settings.alpha();
    this.rule = settings.rules().merge();
    this.mode = settings.mode();
    this.outer = new OuterNesterov(settings.outerLr(), settings.outerMomentum());
    WirePrecision wire = settings.rules().wire();
    this.lossy = wire.lossy();
    this.broadcast = lossy ? new DeltaBroadcast(settings.model(), wire, settings.rules().density()) : null;
    this.shapes = RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank());
    Map<String, float[]> outerState = new HashMap<>();
    Map<String, float[]> residuals = new HashMap<>();
    state.forEach((k, v) -> (k.startsWith(BROADCAST_RESIDUAL) ? residuals : outerState)
        .put(k.startsWith(BROADCAST_RESIDUAL) ? k.substring(BROADCAST_RESIDUAL.length()) : k, v));
    outer.restore(outerState);
    if (broadcast != null) {
      broadcast.restore(residuals);
    }
  }

  /** Prefix of the broadcast residuals' names in {@link #state}. */
  static final String BROADCAST_RESIDUAL = "broadcast_residual/";

  /** Merges non-empty {@code subs} into {@code before}; the result is version {@code before + 1}. */
  Merged merge(RoundPlan plan, WeightsSnapshot before, List<Submission> subs) {
    Map<Integer, Map<String, float[]>> bySlot = new TreeMap<>();
    for (Submission s : subs) {
      bySlot.put(s.slot(), TensorEncoding.decode(s.tensors(), shapes::get));
    }
    Map<String, float[]> deltas = HostMerge.deltas(plan, before.values(), bySlot, alpha, rule, lossy);
    LinkedHashMap<String, float[]> next = new LinkedHashMap<>();
    deltas.forEach((name, d) -> next.put(name, outer.apply(name, before.values().get(name), d)));
    return new Merged(new WeightsSnapshot(before.version() + 1, next), bySlot);
  }

  /**
   * What closing a round produced: the new weights, their factored form or their delta update (or
   * neither), the round's result.
   */
  record Outcome(WeightsSnapshot after, FactoredUpdate update, DeltaUpdate delta, RoundResult result) {}

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
    DeltaUpdate delta = null;
    if (!subs.isEmpty()) {
      Merged m = merge(r.plan, before, subs);
      after = m.after();
      if (broadcast != null) {
        DeltaBroadcast.Encoded e = broadcast.encode(before.values(), after.values());
        after = new WeightsSnapshot(after.version(), e.published());
        delta = new DeltaUpdate(r.round, before.version(), after.version(), e.tensors(),
            WeightsChecksum.of(r.plan.model(), e.published()));
      } else if (mode.projected() && plainMerge()) {
        update = broadcasts.factored(r, m.bySlot(), after, before.version());
      }
    }
    double mergeSeconds = (System.nanoTime() - t0) / 1e9;
    long broadcastBytes = delta != null ? delta.bytes() : update != null ? update.bytes() : after.bytes();
    return new Outcome(after, update, delta, evaluation.result(r, subs, after, broadcastBytes, update != null
        || delta != null, previousValidationLoss, mergeSeconds));
  }

  /** Whether workers can rebuild a merge from its factors (not once the outer optimizer reshapes it). */
  boolean plainMerge() {
    return !outer.active();
  }

  /** The outer optimizer's buffers and the broadcast's residuals, for a checkpoint. */
  Map<String, float[]> state() {
    Map<String, float[]> out = new LinkedHashMap<>(outer.state());
    if (broadcast != null) {
      broadcast.state().forEach((k, v) -> out.put(BROADCAST_RESIDUAL + k, v));
    }
    return out;
  }
}
