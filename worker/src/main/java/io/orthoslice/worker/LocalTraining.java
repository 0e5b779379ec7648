package io.orthoslice.worker;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.round.ErrorFeedback;
import io.orthoslice.common.round.FactorFeedback;
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.round.RoundProjections;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.method.AdapterMatrix;
import io.orthoslice.common.method.DenseParameter;
import io.orthoslice.common.method.MemoryUse;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.method.ParameterTrainer;
import io.orthoslice.common.data.TokenWindows;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.train.Trainer;
import io.orthoslice.common.train.TrainingLoop;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.wire.WireTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One worker's local steps, round after round, with the common {@link Trainer} (the loop the
 * standalone run uses): adapters on this slot's slices (projected modes) or full rank (mode full),
 * starting from the shared weights, at the round's global step and data position.
 *
 * <p>With {@link InnerState#RESET} every round builds a fresh trainer (zero moments). Otherwise one
 * trainer lives across rounds: each round rebases it onto the merged weights, keeping its moments;
 * a slice that changed (a re-draw, or another slot or K) makes the projected matrices take their
 * new projectors, whose moments the state policy resets (KEEP) or transports (TRANSPORT).
 */
final class LocalTraining implements AutoCloseable {

  /** What the round produced: the update's tensors by wire name and statistics. */
  record Result(List<WireTensor> tensors, double meanLoss, long tokens, double stepSeconds, MemoryUse memory,
      Phases phases) {}

  /**
   * Where a round's training time went: preparing the trainer (its start, a fresh trainer or the kept
   * one rebased), the local steps, and the update (read back, encoded; overlap's continuation kept).
   */
  record Phases(double setupSeconds, double startSeconds, double stepsSeconds, double updateSeconds) {

    static final Phases NONE = new Phases(0, 0, 0, 0);

    /** Setup, of it the copy of the round's start out of the weights (overlap), steps, update. */
    @Override
    public String toString() {
      return String.format(java.util.Locale.ROOT, "setup %.3f s (start %.3f s), steps %.3f s, update %.3f s",
          setupSeconds, startSeconds, stepsSeconds, updateSeconds);
    }
  }

  /**
   * DJL's PyTorch engine allows one gradient collector per JVM at a time, so workers sharing a JVM
   * (the in-process tests) take turns; a worker process holds it uncontended.
   */
  private static final Object ONE_COLLECTOR = new Object();

  private final LlamaConfig model;
  private final Device device;
  private final TrainConfig cfg;
  private final RoundRules rules;
  private final double slowDown;
  /** The quantisation residuals of a lossy wire, carried from round to round: the dense parameters' on the host. */
  private final ErrorFeedback feedback = new ErrorFeedback();
  /** The projected matrices' residuals, on this worker's device (made at the first lossy update). */
  private NDManager feedbackManager;
  private FactorFeedback factorFeedback;
  private Trainer kept;
  private RoundProjections projections;
  private int keptSlices;
  private long redraws;
  /** Overlap: this worker's own change of its last merged round, on its device; null when none. */
  private Map<String, NDArray> own;
  private NDManager ownManager;

  /**
   * @param device where the worker trains (its --device)
   * @param cfg the run's training configuration; a persistent inner state transports re-drawn
   *     factor moments only under {@link InnerState#TRANSPORT}
   * @param rules the run's round rules: the inner state, the wire (f32 sends factors and dense values;
   *     a lossy wire sends factors and dense deltas, encoded with error feedback) and the warm-up per round
   */
  LocalTraining(LlamaConfig model, Device device, TrainConfig cfg, RoundRules rules) {
    this(model, device, cfg, rules, 1);
  }

  /**
   * @param slowDown 1, or a simulated slower machine: each local step is followed by a sleep of {@code slowDown - 1}
   *     times its own seconds (the worker's {@code --slow-down}, for measuring stragglers)
   */
  LocalTraining(LlamaConfig model, Device device, TrainConfig cfg, RoundRules rules, double slowDown) {
    if (!(slowDown >= 1)) {
      throw new IllegalArgumentException("--slow-down must be >= 1, got " + slowDown);
    }
    this.slowDown = slowDown;
    this.model = model;
    this.device = device;
    MethodSpec m = cfg.method();
    MethodSpec.StatePolicy policy = rules.innerState() == InnerState.TRANSPORT
        ? MethodSpec.StatePolicy.TRANSPORT : MethodSpec.StatePolicy.RESET;
    this.cfg = cfg.withMethod(new MethodSpec(m.method(), m.projection(), m.rank(), m.mergeEvery(), policy,
        m.optimizer(), m.base(), m.scale()));
    this.rules = rules;
  }

  /**
   * @param weights the shared weights on this worker's device (the replica's; only read)
   * @param plan the round's plan, or null in mode full
   * @param firstWindow data position of the first local step
   * @param continuing overlap: start from {@code weights} plus this worker's own change of the last
   *     round (its continuation), not from {@code weights} alone
   */
  Result round(Map<String, NDArray> weights, RoundPlan plan, int slot, long globalStep, int localSteps,
      long firstWindow, TokenWindows data, WorkerMetrics metrics, boolean continuing) {
    return round(weights, plan, slot, globalStep, localSteps, firstWindow, data, metrics, continuing, () -> {},
        () -> {});
  }

  /**
   * @param startCopied overlap: called once this round's start is copied out of {@code weights} and the copy
   *     is done on the device, after which this round never reads {@code weights} again (the worker then adds
   *     the last round's merge to them while this one trains)
   * @param setUp called once the round's trainer is built, before its first step: background work that would
   *     compete with the setup for the host's cores (the next draw's plan) starts there
   */
  Result round(Map<String, NDArray> weights, RoundPlan plan, int slot, long globalStep, int localSteps,
      long firstWindow, TokenWindows data, WorkerMetrics metrics, boolean continuing, Runnable startCopied,
      Runnable setUp) {
    synchronized (ONE_COLLECTOR) {
      // PyTorch's grad mode is per thread and on by default; DJL turns it off only on the thread that
      // loaded the engine, and a collector restores the mode it found. Training on any other thread
      // (in-process workers) must start with it off, or the optimizer's in-place updates are refused.
      if (ai.djl.engine.Engine.getInstance().getEngineName().equals("PyTorch")) {
        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
      }
      try (NDManager startScope = NDManager.newBaseManager(device)) {
        long t0 = System.nanoTime();
        Map<String, NDArray> start = rules.overlap() ? startOf(weights, continuing, startScope) : weights;
        if (rules.overlap()) {
          waitFor(start);
          startCopied.run();
        }
        long ts = System.nanoTime();
        Trainer trainer = trainerFor(start, plan, slot);
        try {
          setUp.run();
          long t1 = System.nanoTime();
          Result r = train(trainer, globalStep, localSteps, firstWindow, data, metrics);
          long t2 = System.nanoTime();
          List<WireTensor> update = update(trainer, start, plan, slot);
          if (rules.overlap()) {
            keepContinuation(trainer, start);
          }
          Phases phases = new Phases((t1 - t0) / 1e9, (ts - t0) / 1e9, (t2 - t1) / 1e9,
              (System.nanoTime() - t2) / 1e9);
          return new Result(update, r.meanLoss(), r.tokens(), r.stepSeconds(), r.memory(), phases);
        } finally {
          if (!rules.innerState().persistent()) {
            trainer.close();
          }
        }
      }
    }
  }

  /**
   * Overlap: where this round starts, {@code weights + own} when continuing (new arrays in
   * {@code scope}), else {@code weights} (copied, so the round's change can be taken against them).
   */
  private Map<String, NDArray> startOf(Map<String, NDArray> weights, boolean continuing, NDManager scope) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      NDArray w = weights.get(p.name());
      NDArray s = continuing && own != null ? w.add(own.get(p.name())) : w.duplicate();
      s.attach(scope);
      out.put(p.name(), s);
    }
    return out;
  }

  /** Waits until the device has made every array of {@code copies} (one read of the last one's first value). */
  private static void waitFor(Map<String, NDArray> copies) {
    NDArray last = null;
    for (NDArray a : copies.values()) {
      last = a;
    }
    if (last != null) {
      try (NDArray flat = last.flatten(); NDArray first = flat.get(0)) {
        first.toFloatArray(); // stream order: every copy queued before this one is done too
      }
    }
  }

  /**
   * Overlap: keeps this round's own change, {@code W_eff - start} per parameter, whole, for the next
   * round's start (Streaming DiLoCo's local continuation). Weighting it as the merge weighs it (1 / K
   * under the mean) was measured worse: docs/RESULTS.md, "Overlap".
   */
  private void keepContinuation(Trainer trainer, Map<String, NDArray> start) {
    NDManager next = NDManager.newBaseManager(device);
    Map<String, NDArray> change = new LinkedHashMap<>();
    try (NDManager scope = next.newSubManager()) {
      for (ParameterTrainer p : trainer.parameters().values()) {
        String name = p.spec().name();
        NDArray eff = p.effectiveWeight(scope);
        NDArray d = (eff.getDataType() == DataType.FLOAT32 ? eff : eff.toType(DataType.FLOAT32, true))
            .sub(start.get(name));
        d.attach(next);
        change.put(name, d);
      }
    } catch (RuntimeException e) {
      next.close();
      throw e;
    }
    dropContinuation();
    own = change;
    ownManager = next;
  }

  /**
   * Forgets this worker's continuation (overlap): after a round that was not merged, a fetch of the
   * weights, a rejoin. The next round starts from the shared weights alone.
   */
  void dropContinuation() {
    if (ownManager != null) {
      ownManager.close();
    }
    own = null;
    ownManager = null;
  }

  /** A fresh trainer on {@code weights}, or the kept one rebased onto them. */
  private Trainer trainerFor(Map<String, NDArray> weights, RoundPlan plan, int slot) {
    int slices = plan == null ? 0 : plan.checksum(slot);
    if (kept != null) {
      boolean redraw = plan != null && slices != keptSlices;
      if (plan != null) {
        projections.use(plan, slot);
      }
      kept.rebase(weights, redraw ? ++redraws : -1);
      keptSlices = slices;
      return kept;
    }
    NDManager root = NDManager.newBaseManager(device);
    Trainer t;
    try {
      Map<String, NDArray> w = new LinkedHashMap<>();
      for (ParameterSpec p : model.parameters()) {
        NDArray own = weights.get(p.name()).duplicate(); // the trainer's: dense ones train in place
        own.attach(root);
        w.put(p.name(), own);
      }
      projections = plan == null ? null : new RoundProjections(plan, slot);
      LinkedHashMap<String, ParameterTrainer> params = plan == null ? TrainingMethods.build(model, cfg, w, root)
          : TrainingMethods.build(model, cfg, w, root, projections);
      t = new Trainer(model, cfg, root, params);
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
    if (rules.innerState().persistent()) {
      kept = t;
      keptSlices = slices;
    }
    return t;
  }

  private Result train(Trainer trainer, long globalStep, int localSteps, long firstWindow, TokenWindows data,
      WorkerMetrics metrics) {
    int perStep = cfg.microBatch() * cfg.gradAccum();
    // The learning-rate schedule spans the whole run: this round's steps are globalStep .. +H-1.
    trainer.startAt(globalStep);
    TrainingLoop.Result r = TrainingLoop.run(trainer, data, firstWindow, perStep, localSteps, rules::lrFactor,
        (i, s, seconds) -> {
          metrics.step(seconds, s.loss(), cfg.tokensPerStep());
          sleepSlowDown(seconds);
        });
    return new Result(List.of(), r.meanLoss(), (long) localSteps * cfg.tokensPerStep(), r.seconds() / localSteps,
        trainer.memory(), Phases.NONE);
  }

  /** A simulated slower machine: the step took {@code seconds}; it looks as if it took {@code slowDown} times that. */
  private void sleepSlowDown(double seconds) {
    if (slowDown > 1) {
      try {
        Thread.sleep(Math.round((slowDown - 1) * seconds * 1000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * The update's tensors: each factor, and each dense parameter's new value (the f32 wire, rounds in
   * step) or its change since {@code start} (a lossy wire, or overlap: see {@link RoundRules#denseChanges}).
   */
  private List<WireTensor> update(Trainer trainer, Map<String, NDArray> start, RoundPlan plan, int slot) {
    List<WireTensor> out = new ArrayList<>();
    for (ParameterTrainer p : trainer.parameters().values()) {
      ParameterSpec spec = p.spec();
      String name = spec.name();
      if (p instanceof AdapterMatrix a) {
        String factor = RoundMerge.factorName(name);
        if (rules.wire().lossy()) {
          out.addAll(factorFeedback().factor(factor, name, a.factor(), spec.rows(), spec.cols(), plan.rank(),
              plan.slice(spec, slot), rules.wire(), rules.density()));
        } else {
          out.add(wire(factor, a.factor()));
        }
      } else if (p instanceof DenseParameter d) {
        if (rules.denseChanges()) {
          float[] change;
          try (NDArray was = start.get(name).toType(d.weight().getDataType(), true);
              NDArray diff = d.weight().sub(was)) {
            change = floats(diff);
          }
          out.addAll(rules.wire().lossy() ? feedback.dense(name, change, spec.shape(), rules.wire(), rules.density())
              : List.of(WireTensor.ofFloats(name, change, spec.shape())));
        } else {
          out.add(wire(name, d.weight()));
        }
      } else {
        throw new IllegalStateException(name + " is trained by " + p.getClass().getSimpleName()
            + ", which a distributed round cannot merge");
      }
    }
    return out;
  }

  private static WireTensor wire(String name, NDArray a) {
    return WireTensor.ofFloats(name, floats(a), a.getShape().getShape());
  }

  private static float[] floats(NDArray a) {
    if (a.getDataType() == DataType.FLOAT32) {
      return a.toFloatArray();
    }
    try (NDArray f = a.toType(DataType.FLOAT32, true)) {
      return f.toFloatArray();
    }
  }

  private FactorFeedback factorFeedback() {
    if (factorFeedback == null) {
      feedbackManager = NDManager.newBaseManager(device);
      factorFeedback = new FactorFeedback(feedbackManager);
    }
    return factorFeedback;
  }

  @Override
  public void close() {
    dropContinuation();
    if (factorFeedback != null) {
      factorFeedback.close();
      feedbackManager.close();
    }
    if (kept != null) {
      kept.close();
      kept = null;
    }
  }
}
