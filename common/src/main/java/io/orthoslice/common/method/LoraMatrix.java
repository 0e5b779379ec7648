package io.orthoslice.common.method;

import io.orthoslice.common.tensor.Cast;
import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.projection.SeedSequence;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRA (Hu et al. 2021): {@code W_eff = W + s B A} with both factors trained, B (m x r) from zero and
 * A (r x n) uniform in +-1/sqrt(n) (PyTorch's Kaiming-uniform bound with a = sqrt(5)). With
 * ReLoRA (Lialin et al. 2023) the product is merged into W every T steps, A re-initialised, B
 * zeroed, the optimizer state reset, and the learning rate warmed up again over a few steps (the
 * "jagged" schedule).
 */
final class LoraMatrix implements ParameterTrainer {

  private final ParameterSpec spec;
  private final FrozenBase base;
  private final NDArray a;
  private final NDArray b;
  private final AdamW adam;
  private final AdamW.State stateA;
  private final AdamW.State stateB;
  private final double scale;
  private final long seed;
  private final boolean merges;
  private final int restartWarmup;
  private long stepsSinceMerge;

  LoraMatrix(ParameterSpec spec, FrozenBase base, int rank, double scale, long seed, boolean merges,
      int mergeEvery, AdamW adam, NDManager owner, DataType dtype) {
    this.spec = spec;
    this.base = base;
    this.scale = scale;
    this.seed = seed;
    this.merges = merges;
    this.restartWarmup = Math.max(1, Math.min(50, mergeEvery / 4));
    this.adam = adam;
    this.a = owner.zeros(new Shape(rank, spec.cols()), dtype);
    this.b = owner.zeros(new Shape(spec.rows(), rank), dtype);
    initA(0);
    a.setRequiresGradient(true);
    b.setRequiresGradient(true);
    this.stateA = AdamW.State.zerosLike(a, owner);
    this.stateB = AdamW.State.zerosLike(b, owner);
    this.stepsSinceMerge = merges ? 0 : Long.MAX_VALUE / 2;
  }

  private void initA(long round) {
    PortableRandom rng = new PortableRandom(SeedSequence.derive(seed, round, spec.name() + "#lora_A", 0));
    double bound = 1.0 / Math.sqrt(spec.cols());
    double[] v = new double[(int) a.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (rng.nextDouble() * 2 - 1) * bound;
    }
    try (NDArray cast = HostArrays.of(a.getManager(), v, a.getShape(), a.getDataType())) {
      HostArrays.copyInto(a, cast);
    }
  }

  @Override
  public ParameterSpec spec() {
    return spec;
  }

  @Override
  public NDArray dense(DataType dtype, NDManager scope) {
    throw new UnsupportedOperationException(spec.name() + " is used through linear()");
  }

  @Override
  public NDArray linear(NDArray x, DataType dtype, NDManager scope) {
    StepScope.borrow(scope, a, b);
    NDArray ac = Cast.to(a, dtype);
    NDArray bc = Cast.to(b, dtype);
    NDArray low = x.matMul(ac.transpose()).matMul(bc.transpose()); // (.., r) -> (.., m)
    return x.matMul(base.value(dtype, scope).transpose()).add(low.mul(HostArrays.scalar(scope, scale, low.getDataType())));
  }

  @Override
  public List<NDArray> gradients(NDManager scope) {
    NDArray ga = a.getGradient();
    NDArray gb = b.getGradient();
    ga.attach(scope);
    gb.attach(scope);
    return List.of(ga, gb);
  }

  @Override
  public void update(double lr, double gradScale, NDManager scope) {
    List<NDArray> g = gradients(scope);
    double rate = lr * Math.min(1.0, (stepsSinceMerge + 1) / (double) restartWarmup);
    StepScope.borrow(scope, a, b);
    adam.step(a, g.get(0), stateA, rate, 0, gradScale, scope);
    adam.step(b, g.get(1), stateB, rate, 0, gradScale, scope);
    GradientBuffers.zero(a);
    GradientBuffers.zero(b);
    stepsSinceMerge++;
  }

  @Override
  public void zeroGradients(NDManager scope) {
    GradientBuffers.zero(a);
    GradientBuffers.zero(b);
  }

  @Override
  public void redraw(long round, NDManager scope) {
    if (!merges) {
      return;
    }
    base.add(product(scope), scope);
    b.muli(0);
    initA(round);
    stateA.reset();
    stateB.reset();
    stepsSinceMerge = 0;
  }

  private NDArray product(NDManager scope) {
    StepScope.borrow(scope, a, b);
    return b.matMul(a).muli(scale);
  }

  @Override
  public NDArray effectiveWeight(NDManager scope) {
    NDArray w = base.value(a.getDataType(), scope).duplicate().addi(product(scope));
    w.attach(scope);
    return w;
  }

  @Override
  public Map<String, NDArray> state() {
    Map<String, NDArray> out = new LinkedHashMap<>(Map.of("lora_A", a, "lora_B", b, "exp_avg_A", stateA.m,
        "exp_avg_sq_A", stateA.v, "exp_avg_B", stateB.m, "exp_avg_sq_B", stateB.v));
    out.putAll(base.state());
    return out;
  }

  @Override
  public long optimizerStep() {
    return stateA.t;
  }

  @Override
  public void loadState(Map<String, NDArray> s, long step) {
    StateArrays.copyInto(a, s, "lora_A", spec.name());
    StateArrays.copyInto(b, s, "lora_B", spec.name());
    StateArrays.copyInto(stateA.m, s, "exp_avg_A", spec.name());
    StateArrays.copyInto(stateA.v, s, "exp_avg_sq_A", spec.name());
    StateArrays.copyInto(stateB.m, s, "exp_avg_B", spec.name());
    StateArrays.copyInto(stateB.v, s, "exp_avg_sq_B", spec.name());
    base.load(s, spec.name());
    stateA.t = step;
    stateB.t = step;
    stepsSinceMerge = merges ? step : Long.MAX_VALUE / 2;
  }

  @Override
  public MemoryUse memory() {
    long f = a.size() * a.getDataType().getNumOfBytes() + b.size() * b.getDataType().getNumOfBytes();
    return new MemoryUse(base.bytes() + f, f, stateA.bytes() + stateB.bytes(), 0);
  }

  @Override
  public void close() {
    stateA.close();
    stateB.close();
    a.close();
    b.close();
    base.close();
  }
}
