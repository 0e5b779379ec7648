package io.orthoslice.worker;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.train.AdapterMatrix;
import io.orthoslice.common.train.DenseParameter;
import io.orthoslice.common.train.MemoryUse;
import io.orthoslice.common.train.ParameterTrainer;
import io.orthoslice.common.train.TokenWindows;
import io.orthoslice.common.train.TrainConfig;
import io.orthoslice.common.train.Trainer;
import io.orthoslice.common.train.TrainingMethods;
import io.orthoslice.common.wire.WireTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One worker's local steps of one round, with the common {@link Trainer} (the loop the standalone
 * run uses): adapters on this slot's slices (projected modes) or full rank (mode full), starting
 * from the shared weights, at the round's global step and data position.
 */
final class LocalTraining {

  /** What the round produced: the update's tensors by wire name and statistics. */
  record Result(List<WireTensor> tensors, double meanLoss, long tokens, double stepSeconds, MemoryUse memory) {}

  /**
   * DJL's PyTorch engine allows one gradient collector per JVM at a time, so workers sharing a JVM
   * (the in-process tests) take turns; a worker process holds it uncontended.
   */
  private static final Object ONE_COLLECTOR = new Object();

  private LocalTraining() {}

  /**
   * @param plan the round's plan, or null in mode full
   * @param firstWindow data position of the first local step
   */
  static Result run(LlamaConfig model, TrainConfig cfg, Map<String, float[]> weights, RoundPlan plan, int slot,
      long globalStep, int localSteps, long firstWindow, TokenWindows data, WorkerMetrics metrics) {
    synchronized (ONE_COLLECTOR) {
      // PyTorch's grad mode is per thread and on by default; DJL turns it off only on the thread that
      // loaded the engine, and a collector restores the mode it found. Training on any other thread
      // (in-process workers) must start with it off, or the optimizer's in-place updates are refused.
      if (ai.djl.engine.Engine.getInstance().getEngineName().equals("PyTorch")) {
        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
      }
      return train(model, cfg, weights, plan, slot, globalStep, localSteps, firstWindow, data, metrics);
    }
  }

  private static Result train(LlamaConfig model, TrainConfig cfg, Map<String, float[]> weights, RoundPlan plan,
      int slot, long globalStep, int localSteps, long firstWindow, TokenWindows data, WorkerMetrics metrics) {
    int perStep = cfg.microBatch() * cfg.gradAccum();
    NDManager root = NDManager.newBaseManager();
    LinkedHashMap<String, ParameterTrainer> params;
    try {
      Map<String, NDArray> w = new LinkedHashMap<>();
      for (ParameterSpec p : model.parameters()) {
        w.put(p.name(), HostArrays.of(root, weights.get(p.name()), new Shape(p.shape())));
      }
      params = plan == null ? TrainingMethods.build(model, cfg, w, root)
          : TrainingMethods.build(model, cfg, w, root, plan.source(slot));
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
    try (Trainer trainer = new Trainer(model, cfg, root, params)) {
      // The learning-rate schedule spans the whole run: this round's steps are globalStep .. +H-1.
      trainer.startAt(globalStep);
      double lossSum = 0;
      long t0 = System.nanoTime();
      for (int i = 0; i < localSteps; i++) {
        long s0 = System.nanoTime();
        Trainer.StepStats s = trainer.step(data.trainBatch(firstWindow + (long) i * perStep, perStep));
        metrics.step((System.nanoTime() - s0) / 1e9, s.loss(), cfg.tokensPerStep());
        if (!Double.isFinite(s.loss())) {
          throw new IllegalStateException("local loss became " + s.loss() + " at step " + s.step()
              + "; lower --lr");
        }
        lossSum += s.loss();
      }
      double stepSeconds = (System.nanoTime() - t0) / 1e9 / localSteps;
      List<WireTensor> out = new ArrayList<>();
      for (ParameterTrainer p : trainer.parameters().values()) {
        String name = p.spec().name();
        if (p instanceof AdapterMatrix a) {
          out.add(wire(RoundMerge.factorName(name), a.factor()));
        } else if (p instanceof DenseParameter d) {
          out.add(wire(name, d.weight()));
        } else {
          throw new IllegalStateException(name + " is trained by " + p.getClass().getSimpleName()
              + ", which a distributed round cannot merge");
        }
      }
      return new Result(out, lossSum / localSteps, (long) localSteps * cfg.tokensPerStep(), stepSeconds,
          trainer.memory());
    }
  }

  private static WireTensor wire(String name, NDArray a) {
    float[] v = a.getDataType() == DataType.FLOAT32 ? a.toFloatArray() : toFloat(a);
    return WireTensor.ofFloats(name, v, a.getShape().getShape());
  }

  private static float[] toFloat(NDArray a) {
    try (NDArray f = a.toType(DataType.FLOAT32, true)) {
      return f.toFloatArray();
    }
  }
}
