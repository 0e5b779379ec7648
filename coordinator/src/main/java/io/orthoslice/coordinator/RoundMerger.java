package io.orthoslice.coordinator;

import io.orthoslice.common.round.DeltaBroadcast;
import io.orthoslice.common.round.DeviceWire;
import io.orthoslice.common.kernels.SideStream;
import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
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
import java.util.stream.IntStream;

/**
 * Turns a round's updates into the next weights on the coordinator's device ({@code --device}): the
 * merge of {@code common/round} (sum of the slices' lifts or mean, by mode; dense parameters
 * averaged), then the outer optimizer (DiLoCo's Nesterov step; the identity at outer lr 1 without
 * momentum), then the {@link DeltaBroadcast} that lets every worker rebuild the next version by one
 * addition per value, on any device. The current weights, the outer optimizer's buffers and the
 * broadcast's residuals live on that device from round to round; a round's updates go there as they
 * came on the wire and are decoded there, and only the encoded broadcast comes back to the host. The
 * host copy of a version ({@link WeightsSnapshot}) is made when it is first needed, at the latest
 * before the next merge changes the device weights. Merges run on the coordinator's driver thread; the
 * version the device holds may be read in place meanwhile ({@link WeightsSnapshot#onDevice}: the
 * coordinator's reads of a merged round, on their own thread), and a merge waits for such a read
 * before it changes it.
 */
final class RoundMerger implements AutoCloseable {

  private final LlamaConfig model;
  private final double alpha;
  private final MergeRule rule;
  private final OuterNesterov outer;
  private final boolean denseChanges;
  private final DeltaBroadcast broadcast;
  private final Map<String, long[]> shapes; // of every tensor an update carries, by wire name
  private final NDManager manager;
  private final Device device;
  private final Map<String, NDArray> weights = new java.util.concurrent.ConcurrentHashMap<>();
  /** The version the device weights hold (null: none loaded, or a failed merge left them behind). */
  private volatile WeightsSnapshot held;
  /** Readers of the held version in place share it; a merge, which changes it, takes it alone. */
  private final java.util.concurrent.locks.ReentrantReadWriteLock guard =
      new java.util.concurrent.locks.ReentrantReadWriteLock();

  /**
   * @param state the outer optimizer's buffers and, on a lossy wire, the broadcast's residuals
   *     (names under {@link #BROADCAST_RESIDUAL}), as {@link #state} gave them
   * @param device where the weights live and each parameter's change is computed
   */
  RoundMerger(RunSettings settings, Map<String, float[]> state, Device device) {
    this.model = settings.model();
    this.alpha = settings.alpha();
    this.rule = settings.rules().merge();
    this.outer = new OuterNesterov(settings.outerLr(), settings.outerMomentum(), device);
    WirePrecision wire = settings.rules().wire();
    this.denseChanges = settings.rules().denseChanges();
    this.broadcast = new DeltaBroadcast(settings.model(), wire, settings.rules().density(), device);
    this.shapes = RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank());
    this.manager = NDManager.newBaseManager(device);
    this.device = device;
    Map<String, float[]> outerState = new HashMap<>();
    Map<String, float[]> residuals = new HashMap<>();
    state.forEach((k, v) -> (k.startsWith(BROADCAST_RESIDUAL) ? residuals : outerState)
        .put(k.startsWith(BROADCAST_RESIDUAL) ? k.substring(BROADCAST_RESIDUAL.length()) : k, v));
    Map<String, long[]> byName = new HashMap<>();
    model.parameters().forEach(p -> byName.put(p.name(), p.shape()));
    outer.restore(outerState, byName::get);
    broadcast.restore(residuals);
  }

  /**
   * Parameters merged at once: their host work (the wire's bytes in and out) runs beside the device's,
   * and four keep a 16-core machine busy without holding more than four parameters' temporaries.
   */
  private static final java.util.concurrent.ForkJoinPool PARALLEL = new java.util.concurrent.ForkJoinPool(
      Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())), pool -> {
        java.util.concurrent.ForkJoinWorkerThread t =
            java.util.concurrent.ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("coordinator-merge-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
      }, null, false);

  /**
   * Where the weights live. The coordinator's threads that touch them run on this device's side stream
   * ({@link SideStream}): the merge's tasks here, the driver and the aftermath's threads in {@link RoundDriver}.
   */
  Device device() {
    return device;
  }

  /** Prefix of the broadcast residuals' names in {@link #state}. */
  static final String BROADCAST_RESIDUAL = "broadcast_residual/";

  /** What closing a round produced: the new weights, their round update (none when nothing merged), the result. */
  record Outcome(WeightsSnapshot after, DeltaUpdate delta, RoundResult result) {}

  /**
   * The MERGING phase's work: the merge of {@code subs} (none: the weights stay), the outer step and
   * the broadcast, one parameter at a time on the device: its contributions decoded, its change D,
   * the outer step, the encoded change, and the change every worker will decode added to the weights.
   * Besides the weights and the optimizer's and broadcast's buffers, only a few parameters'
   * temporaries are held on the device, and only the encoded broadcast on the host.
   *
   * @throws IllegalStateException when the merged weights hold a non-finite value: nothing of the
   *     round is published or checkpointed, and the run stops on the previous round's weights
   */
  Outcome close(OpenRound r, List<Submission> subs, Broadcasts broadcasts, RoundEvaluation evaluation) {
    WeightsSnapshot before = broadcasts.current();
    WeightsSnapshot after = before;
    DeltaUpdate delta = null;
    double mergeSeconds = 0;
    if (!subs.isEmpty()) {
      SideStream.adopt(device); // the calling thread's checksum reads what the merge's tasks wrote on it
      guard.writeLock().lock();
      try {
        hold(before);
        long t0 = System.nanoTime();
        MergedRound m = merge(r, subs, before);
        after = m.after();
        delta = m.delta();
        mergeSeconds = (System.nanoTime() - t0) / 1e9;
      } finally {
        guard.writeLock().unlock();
      }
    }
    long broadcastBytes = delta != null ? delta.bytes() : after.bytes();
    return new Outcome(after, delta, evaluation.result(r, subs, after, broadcastBytes, delta != null, mergeSeconds));
  }

  private record MergedRound(WeightsSnapshot after, DeltaUpdate delta) {}

  /**
   * Where the last merge's time went, in seconds summed over the threads that merge parameters at once
   * (so they add up to more than the merge's wall time): the updates' decoding (to the device), D (the
   * lifts or the mean, with the projectors' build), the outer step and the broadcast (its encoding, its
   * copy to the host, the weights' addition), the finiteness check, and the checksum (one thread).
   * GPU work is asynchronous: a phase that waits for the device also pays for what was queued before it.
   */
  record Phases(double decode, double delta, double broadcast, double finite, double checksum) {
    @Override
    public String toString() {
      return String.format(java.util.Locale.ROOT, "decode %.3f s, D %.3f s, broadcast %.3f s, finite %.3f s,"
          + " checksum %.3f s (thread-seconds)", decode, delta, broadcast, finite, checksum);
    }
  }

  private volatile Phases lastPhases = new Phases(0, 0, 0, 0, 0);

  /** Where the last merge's time went. */
  Phases lastPhases() {
    return lastPhases;
  }

  /** The merge proper, with the device weights held at {@code before} and the write lock taken. */
  private MergedRound merge(OpenRound r, List<Submission> subs, WeightsSnapshot before) {
    List<ParameterSpec> params = model.parameters();
    List<Submission> bySlot = subs.stream().sorted(java.util.Comparator.comparingInt(Submission::slot)).toList();
    @SuppressWarnings("unchecked")
    List<WireTensor>[] sent = new List[params.size()];
    java.util.concurrent.atomic.LongAdder[] nanos = new java.util.concurrent.atomic.LongAdder[4];
    java.util.Arrays.setAll(nanos, k -> new java.util.concurrent.atomic.LongAdder());
    held = null; // half-merged until every parameter is
    PARALLEL.submit(() -> IntStream.range(0, params.size()).parallel().forEach(i -> {
      SideStream.adopt(device);
      ParameterSpec p = params.get(i);
      try (NDManager scope = manager.newSubManager()) {
        long t0 = System.nanoTime();
        String wire = RoundMerge.needsWeights(r.plan, p) ? p.name() : RoundMerge.factorName(p.name());
        List<RoundMerge.Contribution> cs = new ArrayList<>();
        for (Submission s : bySlot) {
          Map<String, WireTensor> own = TensorEncoding.withCompanions(s.tensors(), wire);
          if (own.isEmpty()) {
            throw new IllegalArgumentException("an update lacks " + wire);
          }
          cs.add(new RoundMerge.Contribution(s.slot(), Map.of(wire, DeviceWire.decode(own, wire, shapes.get(wire),
              scope))));
        }
        long t1 = System.nanoTime();
        NDArray w = weights.get(p.name());
        NDArray d = RoundMerge.delta(r.plan, p, Map.of(p.name(), w), cs, alpha, rule, denseChanges, scope);
        long t2 = System.nanoTime();
        sent[i] = broadcast.send(p, w, outer.step(p.name(), d));
        nanos[0].add(t1 - t0);
        nanos[1].add(t2 - t1);
        nanos[2].add(System.nanoTime() - t2);
      }
    })).join();
    long f0 = System.nanoTime();
    String bad = firstNonFinite(params);
    nanos[3].add(System.nanoTime() - f0);
    if (bad != null) {
      throw new IllegalStateException("round " + (r.round + 1) + " merged to a non-finite value in " + bad
          + "; nothing of it was published or checkpointed");
    }
    LinkedHashMap<String, WireTensor> tensors = new LinkedHashMap<>();
    for (List<WireTensor> ts : sent) {
      ts.forEach(t -> tensors.put(t.name(), t));
    }
    WeightsSnapshot after = WeightsSnapshot.mirrored(before.version() + 1, model.parameterCount(), this::hostCopy,
        this::readHeld);
    long c0 = System.nanoTime();
    long checksum = WeightsChecksum.ofArrays(model, weights); // on the device with the native kernels
    lastPhases = new Phases(nanos[0].sum() / 1e9, nanos[1].sum() / 1e9, nanos[2].sum() / 1e9, nanos[3].sum() / 1e9,
        (System.nanoTime() - c0) / 1e9);
    held = after;
    return new MergedRound(after, new DeltaUpdate(r.round, before.version(), after.version(), tensors, checksum));
  }

  /**
   * The first parameter holding a non-finite value, or null: one float32 sum per parameter, finite
   * exactly when every value is (short of overflow); with the native kernels all sums reach the host
   * by one copy.
   */
  private String firstNonFinite(List<ParameterSpec> params) {
    if (io.orthoslice.common.kernels.Kernels.loaded()) {
      float[] sums = io.orthoslice.common.kernels.NativeKernels.sums(params.stream().map(p -> weights.get(p.name()))
          .toList());
      for (int i = 0; i < sums.length; i++) {
        if (!Float.isFinite(sums[i])) {
          return params.get(i).name();
        }
      }
      return null;
    }
    for (ParameterSpec p : params) {
      try (NDArray sum = weights.get(p.name()).sum()) {
        if (!Float.isFinite(sum.getFloat())) {
          return p.name();
        }
      }
    }
    return null;
  }

  /** {@code f} of the device weights while they hold {@code version}, under the read lock; else empty. */
  private <T> java.util.Optional<T> readHeld(WeightsSnapshot version, java.util.function.Function<Map<String,
      NDArray>, T> f) {
    guard.readLock().lock();
    try {
      if (held != version || version == null) {
        return java.util.Optional.empty();
      }
      return java.util.Optional.ofNullable(f.apply(java.util.Collections.unmodifiableMap(weights)));
    } finally {
      guard.readLock().unlock();
    }
  }

  /**
   * Makes the device weights hold {@code version}: the host copy of the version they held is made first
   * (its snapshot must still read it), then {@code version} is loaded unless it is the one held.
   */
  private void hold(WeightsSnapshot version) {
    if (held != null) {
      held.materialize();
    }
    if (held == version) {
      return;
    }
    held = null;
    Map<String, float[]> values = version.values();
    for (ParameterSpec p : model.parameters()) {
      float[] v = values.get(p.name());
      if (v == null || v.length != p.numel()) {
        throw new IllegalArgumentException("weights version " + version.version() + " lack " + p.name());
      }
      NDArray old = weights.put(p.name(), HostArrays.of(manager, v, new Shape(p.shape())));
      if (old != null) {
        old.close();
      }
    }
    held = version;
  }

  /** The device weights copied to the host, by parameter name. */
  private Map<String, float[]> hostCopy() {
    List<ParameterSpec> params = model.parameters();
    float[][] out = new float[params.size()][];
    PARALLEL.submit(() -> IntStream.range(0, params.size()).parallel()
        .forEach(i -> {
          SideStream.adopt(device);
          out[i] = weights.get(params.get(i).name()).toFloatArray();
        })).join();
    LinkedHashMap<String, float[]> m = new LinkedHashMap<>();
    for (int i = 0; i < out.length; i++) {
      m.put(params.get(i).name(), out[i]);
    }
    return m;
  }

  /** The outer optimizer's buffers and the broadcast's residuals, copied to the host, for a checkpoint. */
  Map<String, float[]> state() {
    SideStream.adopt(device);
    Map<String, float[]> out = new LinkedHashMap<>(outer.state());
    broadcast.state().forEach((k, v) -> out.put(BROADCAST_RESIDUAL + k, v));
    return out;
  }

  @Override
  public void close() {
    guard.writeLock().lock();
    try {
      if (held != null) {
        held.materialize();
      }
      held = null;
      weights.clear();
      outer.close();
      broadcast.close();
      manager.close();
    } finally {
      guard.writeLock().unlock();
    }
  }
}
