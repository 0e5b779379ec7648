package io.orthoslice.coordinator;

import io.orthoslice.common.round.DeltaBroadcast;
import io.orthoslice.common.round.HostMerge;
import io.orthoslice.common.round.WeightsChecksum;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.round.OuterNesterov;
import io.orthoslice.common.round.RoundMerge;
import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.wire.WireTensor;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * Turns a round's updates into the next weights: the host merge of {@code common/round} (sum of the
 * slices' lifts or mean, by mode; dense parameters averaged), then the outer optimizer (DiLoCo's
 * Nesterov step; the identity at outer lr 1 without momentum). On a lossy wire the updates are
 * decoded first (dense tensors are then the workers' deltas). The next version is what the
 * {@link DeltaBroadcast} lets every worker rebuild by one addition per value, on any device. Holds
 * the outer optimizer's state and the broadcast's error feedback; used on the coordinator's driver
 * thread only.
 */
final class RoundMerger {


  private final LlamaConfig model;
  private final Device device;
  private final double alpha;
  private final MergeRule rule;
  private final OuterNesterov outer;
  private final boolean denseChanges;
  private final DeltaBroadcast broadcast;
  private final Map<String, long[]> shapes; // of every tensor an update carries, by wire name

  /**
   * @param state the outer optimizer's buffers and, on a lossy wire, the broadcast's residuals
   *     (names under {@link #BROADCAST_RESIDUAL}), as {@link #state} gave them
   * @param device where each parameter's change is computed (the lifts are the merge's flops)
   */
  RoundMerger(RunSettings settings, Map<String, float[]> state, Device device) {
    this.model = settings.model();
    this.alpha = settings.alpha();
    this.rule = settings.rules().merge();
    this.outer = new OuterNesterov(settings.outerLr(), settings.outerMomentum());
    WirePrecision wire = settings.rules().wire();
    this.denseChanges = settings.rules().denseChanges();
    this.broadcast = new DeltaBroadcast(settings.model(), wire, settings.rules().density());
    this.shapes = RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank());
    this.device = device;
    Map<String, float[]> outerState = new HashMap<>();
    Map<String, float[]> residuals = new HashMap<>();
    state.forEach((k, v) -> (k.startsWith(BROADCAST_RESIDUAL) ? residuals : outerState)
        .put(k.startsWith(BROADCAST_RESIDUAL) ? k.substring(BROADCAST_RESIDUAL.length()) : k, v));
    outer.restore(outerState);
    broadcast.restore(residuals);
  }

  /**
   * Parameters merged at once: each is a few host loops the JVM runs on one core, beside torch's own
   * threads; four keep a 16-core machine busy without holding more than four parameters' temporaries.
   */
  private static final java.util.concurrent.ForkJoinPool PARALLEL = new java.util.concurrent.ForkJoinPool(
      Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())), pool -> {
        java.util.concurrent.ForkJoinWorkerThread t =
            java.util.concurrent.ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("coordinator-merge-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
      }, null, false);

  /** Prefix of the broadcast residuals' names in {@link #state}. */
  static final String BROADCAST_RESIDUAL = "broadcast_residual/";

  /** What closing a round produced: the new weights, their round update (none when nothing merged), the result. */
  record Outcome(WeightsSnapshot after, DeltaUpdate delta, RoundResult result) {}

  /**
   * The MERGING phase's work: the merge of {@code subs} (none: the weights stay), the outer step and
   * the broadcast, one parameter at a time: its change D on the merge device, the outer step, the
   * encoded change and the values every worker will rebuild. Besides the weights before and after,
   * only one parameter's temporaries and the encoded broadcast are ever held.
   */
  Outcome close(OpenRound r, List<Submission> subs, Broadcasts broadcasts, RoundEvaluation evaluation) {
    WeightsSnapshot before = broadcasts.current();
    long t0 = System.nanoTime();
    WeightsSnapshot after = before;
    DeltaUpdate delta = null;
    if (!subs.isEmpty()) {
      List<ParameterSpec> params = model.parameters();
      DeltaBroadcast.Piece[] pieces = new DeltaBroadcast.Piece[params.size()];
      try (NDManager m = NDManager.newBaseManager(device)) {
        PARALLEL.submit(() -> IntStream.range(0, params.size()).parallel().forEach(i -> {
          ParameterSpec p = params.get(i);
          String wire = RoundMerge.needsWeights(r.plan, p) ? p.name() : RoundMerge.factorName(p.name());
          Map<Integer, float[]> bySlot = new TreeMap<>();
          for (Submission s : subs) {
            Map<String, WireTensor> own = TensorEncoding.withCompanions(s.tensors(), wire);
            if (own.isEmpty()) {
              throw new IllegalArgumentException("an update lacks " + wire);
            }
            bySlot.put(s.slot(), TensorEncoding.decode(own, shapes::get).get(wire));
          }
          float[] w = before.values().get(p.name());
          float[] d = HostMerge.delta(r.plan, p, w, bySlot, alpha, rule, denseChanges, m);
          pieces[i] = broadcast.encode(p, w, outer.apply(p.name(), w, d));
        })).join();
      }
      LinkedHashMap<String, float[]> published = new LinkedHashMap<>();
      LinkedHashMap<String, WireTensor> tensors = new LinkedHashMap<>();
      for (int i = 0; i < pieces.length; i++) {
        published.put(params.get(i).name(), pieces[i].published());
        pieces[i].tensors().forEach(t -> tensors.put(t.name(), t));
      }
      after = new WeightsSnapshot(before.version() + 1, published);
      delta = new DeltaUpdate(r.round, before.version(), after.version(), tensors,
          WeightsChecksum.of(model, published));
    }
    double mergeSeconds = (System.nanoTime() - t0) / 1e9;
    long broadcastBytes = delta != null ? delta.bytes() : after.bytes();
    return new Outcome(after, delta, evaluation.result(r, subs, after, broadcastBytes, delta != null, mergeSeconds));
  }

  /** The outer optimizer's buffers and the broadcast's residuals, for a checkpoint. */
  Map<String, float[]> state() {
    Map<String, float[]> out = new LinkedHashMap<>(outer.state());
    broadcast.state().forEach((k, v) -> out.put(BROADCAST_RESIDUAL + k, v));
    return out;
  }
}
