package io.orthoslice.common.method;

import io.orthoslice.common.tensor.Cast;
import io.orthoslice.common.tensor.HostArrays;
import io.orthoslice.common.kernels.Kernels;
import io.orthoslice.common.kernels.NativeKernels;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.PaddedMatrix;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import io.orthoslice.common.projection.Side;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adapter: one-sided {@code W_eff = W + alpha B P^T} (right, B m x r) or {@code W + alpha P B}
 * (left, B r x n), or two-sided {@code W + alpha L M R^T} (M r x r); the projectors are frozen, only
 * the factor is trained, starting at zero. The forward pass computes {@code x W_eff^T} with W_eff formed
 * once per step (or, factored, {@code x W^T + alpha (x P) B^T}; see {@link #ARRANGEMENT_PROPERTY});
 * W itself gets no gradient, and dL/dB = alpha G P (dL/dM = alpha L^T G R) is exactly GaLore's
 * projected gradient, which is why the two modes give the same trajectory (DESIGN.md).
 * Every T steps the factor is merged into W and P re-drawn. For an SVD projector W's gradient is
 * requested for the one step after a re-draw, and the factor's gradient is taken as alpha G P_new
 * (the factor is zero then, so the forward pass does not depend on P).
 */
public final class AdapterMatrix implements ParameterTrainer {

  private final FrozenBase base;
  private final NDArray factor;
  private final ProjectedState proj;
  private final AdamW adam;
  private final double scale;
  private NDArray gradientOverride;

  AdapterMatrix(FrozenBase base, ProjectedState proj, AdamW adam, double scale, NDManager owner) {
    if (base.quantized() && proj.source.needsGradient()) {
      throw new IllegalArgumentException("projection svd needs the full gradient of W, which a quantized"
          + " base (--base int8|nf4) does not have; use gaussian, rademacher or orthogonal");
    }
    this.base = base;
    this.proj = proj;
    this.adam = adam;
    this.scale = scale;
    long[] reduced = proj.reducedShape();
    this.factor = owner.zeros(new ai.djl.ndarray.types.Shape(reduced), proj.adam.m.getDataType());
    factor.setRequiresGradient(true);
    proj.schedule(0);
  }

  @Override
  public ParameterSpec spec() {
    return proj.spec;
  }

  /** The trained factor: B (m x r) on the right side, B (r x n) on the left, M (r x r) two-sided. */
  public NDArray factor() {
    return factor;
  }

  /** P (d x r) of a one-sided adapter. */
  public NDArray projector() {
    return proj.projector();
  }

  /** The side of a one-sided adapter. */
  public Side side() {
    return proj.side();
  }

  public double scale() {
    return scale;
  }

  /** The frozen W (unquantized bases only). */
  public NDArray base() {
    if (base.quantized()) {
      throw new IllegalStateException("the base of " + spec().name() + " is quantized");
    }
    return base.full();
  }

  @Override
  public void prepareStep(NDManager scope) {
    if (proj.pending()) {
      base.full().setRequiresGradient(true);
    }
  }

  @Override
  public NDArray dense(DataType dtype, NDManager scope) {
    throw new UnsupportedOperationException(spec().name() + " is used through linear()");
  }

  /**
   * How {@link #linear} arranges the product: {@code merged} (the default: {@code x (W + alpha B P^T)^T},
   * the effective weight formed once per step, one addmm with the native kernels, and autograd's m x n
   * gradient of it projected onto B) or {@code factored} ({@code x W^T + alpha (x P) B^T}: no m x n
   * gradient at all, fewer FLOPs, but two more matmuls and an add per matrix). Measured on the H200
   * (docs/PERFORMANCE.md), where a step of these models is bound by the host's launches, merged is
   * the faster; factored saves the two m x n matmuls per matrix where the GPU, not the host, is the
   * limit (large batches). Both give the same trajectory (MethodsTest).
   */
  public static final String ARRANGEMENT_PROPERTY = "orthoslice.adapter.arrangement";
  private static volatile boolean merged = arrangement(System.getProperty(ARRANGEMENT_PROPERTY, "merged"));

  /** Tests: the arrangement of adapters built from now on in this process. */
  static void arrangeMerged(boolean on) {
    merged = on;
  }

  static boolean arrangement(String value) {
    return switch (value) {
      case "factored" -> false;
      case "merged" -> true;
      default -> throw new IllegalArgumentException(
          "-D" + ARRANGEMENT_PROPERTY + "=" + value + ": allowed are factored and merged");
    };
  }

  @Override
  public NDArray linear(NDArray x, DataType dtype, NDManager scope) {
    if (merged) {
      return x.matMul(effectiveOnTape(dtype, scope).transpose());
    }
    StepScope.borrow(scope, factor);
    NDArray f = Cast.to(factor, dtype); // Cast: on the autograd tape
    NDArray y = x.matMul(base.value(dtype, scope).transpose());
    return y.add(scaled(proj.forward(x, f, dtype, scope), scope));
  }

  /** Merged: the effective weight, formed anyway, is padded (and the unpadded one freed at once). */
  @Override
  public NDArray linear(NDArray x, DataType dtype, NDManager scope, PaddedMatrix shape) {
    if (!merged) {
      return ParameterTrainer.super.linear(x, dtype, scope, shape);
    }
    NDArray eff = effectiveOnTape(dtype, scope);
    NDArray padded = shape.pad(eff, dtype); // copy_'s backward keeps no input: eff can go
    eff.close();
    return x.matMul(padded.transpose());
  }

  /**
   * {@code W + alpha lift(B)} in {@code dtype}, on the tape, in {@code scope}. Only it survives: the
   * compute copies of W and B, the lift and its scaling are closed at once, as autograd saved none of
   * them (the lift's matmul keeps P, the sum nothing), so a step holds one m x n array per matrix,
   * as full rank does.
   */
  private NDArray effectiveOnTape(DataType dtype, NDManager scope) {
    StepScope.borrow(scope, factor);
    boolean nativeDtype = dtype == DataType.FLOAT16 || dtype == DataType.FLOAT32;
    if (Kernels.adapterWeight() && nativeDtype && !proj.twoSided()) {
      NDArray w = base.quantized() ? base.value(dtype, scope) : base.full();
      StepScope.borrow(scope, w, proj.projector());
      NDArray eff = NativeKernels.adapterWeight(w, factor, proj.projector(), proj.side() == Side.RIGHT, scale,
          dtype == DataType.FLOAT16);
      if (base.quantized()) {
        w.close();
      }
      return eff;
    }
    NDArray f = Cast.to(factor, dtype); // Cast: on the autograd tape
    NDArray w = base.value(dtype, scope);
    NDArray lift = proj.liftOnTape(f, dtype, scope);
    NDArray scaledLift = scaled(lift, scope);
    NDArray eff = w.add(scaledLift);
    if (scaledLift != lift) {
      scaledLift.close();
    }
    lift.close();
    if (w != base.full()) { // a cast or a dequantized copy
      w.close();
    }
    if (f != factor) {
      f.close();
    }
    return eff;
  }

  private NDArray scaled(NDArray a, NDManager scope) {
    return scale == 1.0 ? a : a.mul(HostArrays.scalar(scope, scale, a.getDataType()));
  }

  @Override
  public void afterBackward(NDManager scope) {
    if (!proj.pending()) {
      return;
    }
    NDArray w = base.full();
    NDArray g = w.getGradient();
    g.attach(scope);
    proj.drawPending(g);
    gradientOverride = proj.project(g);
    if (scale != 1.0) {
      gradientOverride.muli(scale);
    }
    GradientBuffers.zero(w);
    w.setRequiresGradient(false);
    GradientBuffers.zero(factor);
  }

  @Override
  public List<NDArray> gradients(NDManager scope) {
    if (gradientOverride != null) {
      return List.of(gradientOverride);
    }
    NDArray g = factor.getGradient();
    g.attach(scope);
    return List.of(g);
  }

  @Override
  public void update(double lr, double gradScale, NDManager scope) {
    NDArray g = gradients(scope).get(0);
    StepScope.borrow(scope, factor);
    adam.step(factor, g, proj.adam, lr, 0, gradScale, scope);
    GradientBuffers.zero(factor);
    gradientOverride = null;
  }

  @Override
  public void zeroGradients(NDManager scope) {
    GradientBuffers.zero(factor);
    if (proj.pending()) {
      GradientBuffers.zero(base.full());
    }
    gradientOverride = null;
  }

  @Override
  public void redraw(long round, NDManager scope) {
    base.add(lifted(scope), scope);
    factor.muli(0);
    proj.schedule(round);
  }

  @Override
  public void rebase(NDArray w, long redraw, NDManager scope) {
    if (base.quantized()) {
      throw new UnsupportedOperationException(spec().name() + ": a quantized base is not continued across rounds");
    }
    HostArrays.copyInto(base.full(), w);
    // Copied, not multiplied by 0: a NaN factor times 0 would stay NaN.
    try (NDArray zero = factor.zerosLike()) {
      HostArrays.copyInto(factor, zero);
    }
    if (redraw >= 0) {
      proj.schedule(redraw);
    }
  }

  private NDArray lifted(NDManager scope) {
    StepScope.borrow(scope, factor);
    NDArray d = proj.lift(factor);
    return scale == 1.0 ? d : d.muli(scale);
  }

  @Override
  public NDArray effectiveWeight(NDManager scope) {
    NDArray w = base.value(factor.getDataType(), scope).duplicate().addi(lifted(scope));
    w.attach(scope);
    return w;
  }

  @Override
  public Map<String, NDArray> state() {
    Map<String, NDArray> out = new LinkedHashMap<>(proj.state());
    out.put("factor", factor);
    out.putAll(base.state());
    return out;
  }

  @Override
  public long optimizerStep() {
    return proj.adam.t;
  }

  @Override
  public void loadState(Map<String, NDArray> s, long step) {
    StateArrays.copyInto(factor, s, "factor", spec().name());
    base.load(s, spec().name());
    proj.restore(s, step);
  }

  @Override
  public MemoryUse memory() {
    long f = factor.size() * factor.getDataType().getNumOfBytes();
    return new MemoryUse(base.bytes() + f, f, proj.adam.bytes(), proj.persistedBytes());
  }

  @Override
  public void close() {
    proj.close();
    factor.close();
    base.close();
  }
}
