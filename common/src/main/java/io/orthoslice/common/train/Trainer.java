package io.orthoslice.common.train;


import io.orthoslice.common.method.MemoryUse;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.method.ParameterTrainer;
import io.orthoslice.common.config.LearningRateSchedule;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.tensor.HostArrays;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.orthoslice.common.model.GemmAlignment;
import io.orthoslice.common.model.ChunkedLoss;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.PaddedMatrix;
import io.orthoslice.common.model.Weights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One optimizer step at a time: forward, loss, backward over the micro-batches, unscale and clip,
 * update, and at the method's boundaries merge and re-draw. It knows nothing of files, data order
 * or the network; the standalone run and the distributed worker both drive it.
 *
 * <p>Memory: a root manager owns weights and optimizer state; each step opens a sub-manager and
 * closes it when the step ends, so nothing made during a step outlives it. Inside the step, each
 * micro-batch's forward and backward run in a scope closed right after its backward (the
 * activations are gone before the optimizer runs), each block of the forward pass in its own (see
 * {@link Llama}), and each parameter's norm and update in its own, so no temporary of one parameter
 * waits for the others. The loss and the gradient norm come to the host once per step, together.
 *
 * <p>Over 300 lines because it is the step and the state the step shares: micro-batches, loss scaling,
 * clipping, the per-parameter rules, evaluation and exact restore all read the same weights and scaler;
 * evaluation is the next piece to move out.
 */
public final class Trainer implements AutoCloseable {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Trainer.class);

  /** What one step did. {@code loss} is the mean over its micro-batches, in nats per token. */
  public record StepStats(long step, double loss, double gradNorm, double lr, boolean skipped, double lossScale) {}

  private Llama model;
  private final TrainConfig config;
  private final NDManager root;
  private final LinkedHashMap<String, ParameterTrainer> params;
  private final LearningRateSchedule schedule;
  private final LossScaler scaler;
  private long step;
  private long skippedSteps;
  private boolean recompute;

  /**
   * @param params the per-parameter training rules, in the model's parameter order; built by {@link
   *     TrainingMethods} and owned (closed) by this trainer
   */
  public Trainer(LlamaConfig modelConfig, TrainConfig config, NDManager root,
      LinkedHashMap<String, ParameterTrainer> params) {
    this.model = new Llama(modelConfig, root); // mask and rotary tables made once, on root's device
    this.config = config;
    this.root = root;
    this.params = params;
    this.schedule = config.schedule();
    this.scaler = LossScaler.forPrecision(config.precision());
  }

  public LlamaConfig modelConfig() {
    return model.config();
  }

  public TrainConfig config() {
    return config;
  }

  public long step() {
    return step;
  }

  /** Sets the completed-step counter (a worker's round starts at the run's global step). */
  public void startAt(long globalStep) {
    if (globalStep < 0) {
      throw new IllegalArgumentException("global step must be >= 0, got " + globalStep);
    }
    this.step = globalStep;
  }

  /**
   * The GEMM alignment of the forward pass (default {@link GemmAlignment#defaults()}); tests pad on the
   * CPU with it. Call before the first step.
   */
  public Trainer alignGemms(GemmAlignment alignment) {
    this.model = model.withAlignment(alignment);
    return this;
  }

  /**
   * When the loss runs the output head in chunks of tokens (default {@link ChunkedLoss#defaults()}:
   * where a batch's fp32 logits would pass 256 MiB). Call before the first step.
   */
  public Trainer chunkLoss(ChunkedLoss chunking) {
    this.model = model.withChunking(chunking);
    return this;
  }

  public NDManager root() {
    return root;
  }

  /**
   * Activation checkpointing: the forward pass keeps only each block's input, and the backward pass
   * recomputes one block at a time before going back through it. About a third more compute for a
   * fraction of the activation memory; the same gradients (the recomputation is the same arithmetic).
   */
  public Trainer recomputeActivations(boolean on) {
    this.recompute = on;
    return this;
  }

  public Map<String, ParameterTrainer> parameters() {
    return params;
  }

  /** Steps whose update was skipped because a gradient was not finite. */
  public long skippedSteps() {
    return skippedSteps;
  }

  public LossScaler lossScaler() {
    return scaler;
  }

  /**
   * Runs one optimizer step on {@code tokens}: gradAccum micro-batches of microBatch windows of
   * seqLen+1 tokens each, flat and row-major.
   */
  public StepStats step(long[] tokens) {
    return step(tokens, 1.0);
  }

  /**
   * {@link #step(long[])} at {@code lrFactor} times the schedule's learning rate (a distributed
   * round's own warm-up, {@code RoundRules.lrFactor}); the stats report the rate applied.
   */
  public StepStats step(long[] tokens, double lrFactor) {
    if (!(lrFactor > 0 && lrFactor <= 1)) {
      throw new IllegalArgumentException("lr factor must be in (0, 1], got " + lrFactor);
    }
    int window = config.seqLen() + 1;
    int perMicro = config.microBatch() * window;
    if (tokens.length != perMicro * config.gradAccum()) {
      throw new IllegalArgumentException("step needs " + perMicro * config.gradAccum()
          + " tokens (grad-accum x batch-size x (seq-len+1)), got " + tokens.length);
    }
    DataType compute = config.precision().compute();
    double lr = schedule.at(step) * lrFactor;
    StepStats stats;
    try (NDManager scope = root.newSubManager()) {
      for (ParameterTrainer p : params.values()) {
        p.prepareStep(scope);
      }
      NDArray lossSum = null; // on the device, read with the norm
      for (int a = 0; a < config.gradAccum(); a++) {
        long[] part = new long[perMicro];
        System.arraycopy(tokens, a * perMicro, part, 0, perMicro);
        try (NDManager pass = scope.newSubManager()) {
          NDArray batch = HostArrays.of(pass, part, new Shape(config.microBatch(), window));
          NDArray inputs = batch.get(new NDIndex(":, :-1"));
          NDArray targets = batch.get(new NDIndex(":, 1:"));
          NDArray value = forwardBackward(pass, inputs, targets, compute, scaler.scale() / config.gradAccum());
          value.attach(scope); // (), float64, kept past the pass
          lossSum = lossSum == null ? value : lossSum.addi(value);
        }
      }
      for (ParameterTrainer p : params.values()) {
        p.afterBackward(scope);
      }
      // The one host read of the step: the loss and the squared gradient norm.
      double[] read;
      try (NDArray both = NDArrays.stack(new NDList(lossSum, squaredNorm(scope)))) {
        read = both.toDoubleArray();
      }
      double meanLoss = read[0] / config.gradAccum();
      // Undo the loss scale and the micro-batch split, then clip by the global norm.
      double unscale = 1.0 / scaler.scale();
      double norm = Math.sqrt(read[1]) * unscale;
      boolean finite = Double.isFinite(norm);
      // A non-finite gradient never reaches the weights: with fp16 it is an overflow (the loss
      // scale halves); in fp32/fp64 it is skipped with a warning, like an fp16 overflow.
      boolean apply = scaler.update(finite) && finite;
      if (!finite && !scaler.dynamic()) {
        skippedSteps++;
        LOG.warn("step {} skipped: non-finite gradient in {}", step + 1, nonFinite(scope));
      }
      if (apply) {
        double clip = config.gradClip() > 0 && norm > config.gradClip() ? config.gradClip() / norm : 1.0;
        for (ParameterTrainer p : params.values()) {
          try (NDManager one = scope.newSubManager()) { // this parameter's temporaries, freed before the next
            p.update(lr, unscale * clip, one);
          }
        }
      } else {
        for (ParameterTrainer p : params.values()) {
          p.zeroGradients(scope);
        }
      }
      step++;
      stats = new StepStats(step, meanLoss, norm, lr, !apply, scaler.scale());
    }
    // Merge and re-draw in a scope of their own: the step's scope has borrowed the projectors
    // that a re-draw replaces, and a borrowed array must not be closed under its borrower.
    int every = config.method().mergeEvery();
    if (config.method().method() != MethodSpec.Method.FULL && step % every == 0) {
      try (NDManager scope = root.newSubManager()) {
        for (ParameterTrainer p : params.values()) {
          p.redraw(step / every, scope);
        }
      }
    }
    return stats;
  }

  /**
   * Continues this trainer from the shared weights of a new distributed round (float32 by parameter
   * name): every W_eff becomes the given weights, the optimizer state stays, and with {@code redraw
   * >= 0} the projected matrices take new projectors (see {@link ParameterTrainer#rebase}).
   */
  public void rebase(Map<String, NDArray> weights, long redraw) {
    try (NDManager scope = root.newSubManager()) {
      for (ParameterTrainer p : params.values()) {
        NDArray w = weights.get(p.spec().name());
        if (w == null) {
          throw new IllegalArgumentException("round weights lack parameter " + p.spec().name());
        }
        p.rebase(w, redraw, scope);
      }
    }
  }

  /**
   * One micro-batch's forward and backward (gradients accumulate on the parameters, the loss times
   * {@code backwardScale}); returns the unscaled loss, detached, float64, in {@code pass}.
   */
  private NDArray forwardBackward(NDManager pass, NDArray inputs, NDArray targets, DataType compute,
      double backwardScale) {
    Weights w = view(pass, compute);
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      boolean chunked = model.chunksLoss(inputs.size());
      if (!recompute && chunked) { // the head in chunks: the full logits never exist
        ChunkedLoss.Pass head = model.lossAndGradients(w, model.trunk(w, inputs, compute), targets, compute,
            backwardScale);
        gc.backward(head.surrogate());
        return head.loss();
      }
      if (!recompute) {
        NDArray loss = model.loss(w, inputs, targets, compute);
        gc.backward(loss.mul(HostArrays.scalar(pass, backwardScale, loss.getDataType())));
        return loss.toType(DataType.FLOAT64, true).stopGradient();
      }
      // Forward off the tape, keeping each block's input: (L + 1) x (B, T, H) is all that stays.
      int layers = model.config().numLayers();
      NDArray[] in = new NDArray[layers + 1];
      JniUtils.setGradMode(false);
      try {
        in[0] = model.embed(w, inputs);
        for (int i = 0; i < layers; i++) {
          in[i + 1] = model.block(w, i, in[i], compute);
        }
      } finally {
        JniUtils.setGradMode(true);
      }
      // The head on the tape from the last block's output, then back through one recomputed block
      // at a time: each block's input becomes a leaf whose gradient is the next upstream gradient.
      NDArray last = in[layers];
      last.setRequiresGradient(true);
      NDArray value;
      if (chunked) {
        ChunkedLoss.Pass head = model.lossAndGradients(w, last, targets, compute, backwardScale);
        value = head.loss();
        gc.backward(head.surrogate());
      } else {
        NDArray loss = Llama.crossEntropy(model.head(w, last, compute), targets);
        value = loss.toType(DataType.FLOAT64, true).stopGradient();
        gc.backward(loss.mul(HostArrays.scalar(pass, backwardScale, loss.getDataType())));
      }
      NDArray upstream = last.getGradient(); // dL/dh_L
      for (int i = layers - 1; i >= 0; i--) {
        NDArray x = in[i];
        x.setRequiresGradient(true);
        NDArray out = model.block(w, i, x, compute);
        JniUtils.backward((PtNDArray) out, (PtNDArray) upstream, false, false);
        out.close();
        upstream.close();
        in[i + 1].close();
        upstream = x.getGradient();
      }
      NDArray embedded = model.embed(w, inputs); // on the tape, for the embedding's gradient
      JniUtils.backward((PtNDArray) embedded, (PtNDArray) upstream, false, false);
      embedded.close();
      upstream.close();
      in[0].close();
      return value;
    }
  }

  /** Names the parameters whose gradients or values are not finite (diagnostics for a NaN step). */
  private String nonFinite(NDManager scope) {
    StringBuilder out = new StringBuilder();
    for (ParameterTrainer p : params.values()) {
      for (NDArray g : p.gradients(scope)) {
        if (!Double.isFinite(g.toType(DataType.FLOAT64, false).square().sum().getDouble())) {
          out.append(p.spec().name()).append(" (gradient) ");
        }
      }
      NDArray w = p.effectiveWeight(scope);
      if (!Double.isFinite(w.toType(DataType.FLOAT64, false).square().sum().getDouble())) {
        out.append(p.spec().name()).append(" (weight) ");
      }
    }
    return out.toString().trim();
  }

  /**
   * The squared global gradient norm, float64, on the device (owned by {@code scope}): each
   * parameter's L2 norm is taken in its own scope, in the gradient's type (torch accumulates a float32
   * norm in float32), so no copy or square of a gradient is ever made.
   */
  private NDArray squaredNorm(NDManager scope) {
    List<NDArray> norms = new ArrayList<>();
    for (ParameterTrainer p : params.values()) {
      try (NDManager one = scope.newSubManager()) {
        for (NDArray g : p.gradients(one)) {
          NDArray n = g.norm().toType(DataType.FLOAT64, false);
          n.attach(scope);
          norms.add(n);
        }
      }
    }
    try (NDArray stacked = NDArrays.stack(new NDList(norms))) {
      norms.forEach(NDArray::close);
      NDArray sq = stacked.square().sum();
      sq.attach(scope);
      return sq;
    }
  }

  /** Mean next-token loss (nats) over the given batches, without gradients. */
  public double evaluate(List<long[]> batches, int batchSize) {
    DataType compute = config.precision().compute();
    return Evaluator.meanLoss(model, scope -> view(scope, compute), batches, batchSize, compute, root);
  }

  /** W_eff of every parameter by Hugging Face name, as new arrays owned by {@code scope}. */
  public LinkedHashMap<String, NDArray> effectiveWeights(NDManager scope) {
    LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
    for (ParameterTrainer p : params.values()) {
      NDArray w = p.effectiveWeight(scope);
      w.setName(p.spec().name());
      out.put(p.spec().name(), w);
    }
    return out;
  }

  /** Optimizer and method state of every parameter, keyed "<param>.<suffix>" (live arrays). */
  public LinkedHashMap<String, NDArray> optimizerState(NDManager scope) {
    LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
    for (ParameterTrainer p : params.values()) {
      for (Map.Entry<String, NDArray> e : p.state().entrySet()) {
        out.put(p.spec().name() + "." + e.getKey(), e.getValue());
      }
      NDArray t = HostArrays.of(scope, new long[] {p.optimizerStep()}, new Shape(1));
      out.put(p.spec().name() + ".step", t);
    }
    return out;
  }

  /** Restores what {@link #optimizerState} saved and the step counter. */
  public void restore(Map<String, NDArray> state, long completedSteps, double[] lossScale) {
    for (ParameterTrainer p : params.values()) {
      String prefix = p.spec().name() + ".";
      Map<String, NDArray> mine = new LinkedHashMap<>();
      for (Map.Entry<String, NDArray> e : state.entrySet()) {
        if (e.getKey().startsWith(prefix)) {
          mine.put(e.getKey().substring(prefix.length()), e.getValue());
        }
      }
      NDArray t = mine.remove("step");
      if (t == null) {
        throw new IllegalArgumentException("checkpoint optimizer state lacks '" + prefix + "step'");
      }
      p.loadState(mine, t.toLongArray()[0]);
    }
    this.step = completedSteps;
    if (lossScale != null) {
      scaler.restore(lossScale);
    }
  }

  public MemoryUse memory() {
    MemoryUse total = MemoryUse.ZERO;
    for (ParameterTrainer p : params.values()) {
      total = total.plus(p.memory());
    }
    return total;
  }

  private Weights view(NDManager scope, DataType compute) {
    return new Weights() {
      @Override
      public NDArray dense(String name) {
        return require(name).dense(compute, scope);
      }

      @Override
      public NDArray linear(String name, NDArray x) {
        return require(name).linear(x, compute, scope);
      }

      @Override
      public NDArray linear(String name, NDArray x, PaddedMatrix shape) {
        return require(name).linear(x, compute, scope, shape);
      }
    };
  }

  private ParameterTrainer require(String name) {
    ParameterTrainer p = params.get(name);
    if (p == null) {
      throw new IllegalStateException("model asked for unknown parameter " + name);
    }
    return p;
  }

  @Override
  public void close() {
    for (ParameterTrainer p : params.values()) {
      p.close();
    }
    root.close();
  }
}
