package io.orthoslice.common.method;

import io.orthoslice.common.config.AdamHyper;

import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.tensor.Cast;
import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import io.orthoslice.common.optim.MomentTransport;
import io.orthoslice.common.projection.ProjectionSource;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What GaLore-style projected gradients and adapters share for one m x n matrix: the projectors, the
 * Adam moments on the reduced shape, and the rule applied to those moments when the projectors are
 * re-drawn (reset as ReLoRA, carry as GaLore's code, transport as LDAdam).
 *
 * <p>One-sided: one P (d x r) on the side GaLore picks, reduced shape m x r ({@code G P}) or r x n
 * ({@code P^T G}). Two-sided (Kronecker-factored, GaLore's {@code full}): L (m x r) and R (n x r),
 * reduced shape r x r ({@code L^T G R}), lifted back as {@code L U R^T}. Each projector acts through
 * its {@link Side}, so both cases are the same code: project applies the sides in turn, lift undoes
 * them in reverse.
 */
final class ProjectedState implements AutoCloseable {

  final ParameterSpec spec;
  final int rank;
  final ProjectionSource source;
  final MethodSpec.StatePolicy policy;
  final AdamW.State adam;
  private final List<Side> sides; // RIGHT before LEFT when both are present
  private final List<NDArray> projectors; // parallel to sides, each d x r
  private final AdamHyper hyper;
  private final NDManager owner;
  private final DataType dtype;
  private long redraw = -1;
  private long pendingIndex = -1;
  private final NDArray meta; // int64 [redraw, pendingIndex], kept current for checkpoints

  ProjectedState(ParameterSpec spec, int rank, ProjectionSource source, MethodSpec.StatePolicy policy,
      AdamHyper hyper, NDManager owner, DataType dtype) {
    this.spec = spec;
    List<Side> s = new ArrayList<>(source.sides(spec));
    s.sort((a, b) -> a == b ? 0 : a == Side.RIGHT ? -1 : 1);
    this.sides = List.copyOf(s);
    for (Side side : sides) {
      Projector.checkRank(side.dimension(spec.rows(), spec.cols()), rank);
    }
    this.rank = rank;
    this.source = source;
    this.policy = policy;
    this.hyper = hyper;
    this.owner = owner;
    this.dtype = dtype;
    Shape reduced = new Shape(reducedShape());
    this.adam = new AdamW.State(owner.zeros(reduced, dtype), owner.zeros(reduced, dtype), 0);
    // Until the first draw (an SVD projector waits for the first gradient) P is zero: with a zero
    // factor the forward pass does not depend on it.
    List<NDArray> p = new ArrayList<>();
    for (Side side : sides) {
      p.add(owner.zeros(new Shape(side.dimension(spec.rows(), spec.cols()), rank), dtype));
    }
    this.projectors = List.copyOf(p);
    this.meta = owner.zeros(new Shape(2), DataType.INT64);
    syncMeta();
  }

  boolean twoSided() {
    return sides.size() == 2;
  }

  /** The side of a one-sided projection. */
  Side side() {
    requireOneSided();
    return sides.get(0);
  }

  /** P (d x r) of a one-sided projection. */
  NDArray projector() {
    requireOneSided();
    return projectors.get(0);
  }

  private void requireOneSided() {
    if (twoSided()) {
      throw new IllegalStateException(spec.name() + " has a two-sided projection (L and R), not one P");
    }
  }

  /**
   * Schedules re-draw {@code index}: seeded projectors are drawn now; a gradient-dependent (SVD)
   * one is drawn by {@link #drawPending} once the next step's gradient exists.
   */
  void schedule(long index) {
    if (source.needsGradient()) {
      pendingIndex = index;
      syncMeta();
    } else {
      draw(index, null);
    }
  }

  boolean pending() {
    return pendingIndex >= 0;
  }

  /** Draws a pending SVD projector from the current gradient; returns false if none was pending. */
  boolean drawPending(NDArray gradient) {
    if (pendingIndex < 0) {
      return false;
    }
    long index = pendingIndex;
    pendingIndex = -1;
    draw(index, gradient);
    return true;
  }

  private void syncMeta() {
    try (NDArray values = HostArrays.of(meta.getManager(), new long[] {redraw, pendingIndex}, meta.getShape())) {
      HostArrays.copyInto(meta, values);
    }
  }

  /** m x r or r x n (one side), r x r (two sides). */
  long[] reducedShape() {
    long rows = sides.contains(Side.LEFT) ? rank : spec.rows();
    long cols = sides.contains(Side.RIGHT) ? rank : spec.cols();
    return new long[] {rows, cols};
  }

  /** The reduced gradient: {@code G P}, {@code P^T G} or {@code L^T G R}; owned by g's manager. */
  NDArray project(NDArray g) {
    NDArray r = g;
    for (int i = 0; i < sides.size(); i++) {
      NDArray next = sides.get(i).project(r, projectors.get(i));
      if (r != g) {
        r.close();
      }
      r = next;
    }
    return r;
  }

  /** The m x n matrix a reduced u stands for: {@code u P^T}, {@code P u} or {@code L u R^T}. */
  NDArray lift(NDArray u) {
    NDArray w = u;
    for (int i = sides.size() - 1; i >= 0; i--) {
      NDArray next = sides.get(i).lift(w, projectors.get(i));
      if (w != u) {
        w.close();
      }
      w = next;
    }
    return w;
  }

  /**
   * {@code x (lift(f))^T} without forming the m x n lift: {@code x P f^T} (right), {@code x f^T P^T}
   * (left), {@code x R f^T L^T} (two-sided). Temporaries and the result belong to {@code scope}.
   */
  NDArray forward(NDArray x, NDArray f, DataType compute, NDManager scope) {
    StepScope.borrow(scope, projectors.toArray(new NDArray[0]));
    NDArray y = x;
    NDArray right = onSide(Side.RIGHT);
    NDArray left = onSide(Side.LEFT);
    if (right != null) {
      y = y.matMul(Cast.to(right, compute)); // (.., r)
    }
    y = y.matMul(f.transpose());
    return left == null ? y : y.matMul(Cast.to(left, compute).transpose()); // (.., m)
  }

  /**
   * {@code lift(f)} in {@code compute} (projectors cast to it), on autograd's tape so that f's
   * gradient is the lift's gradient projected. Temporaries and the result belong to {@code scope}.
   */
  NDArray liftOnTape(NDArray f, DataType compute, NDManager scope) {
    StepScope.borrow(scope, projectors.toArray(new NDArray[0]));
    NDArray w = f;
    for (int i = sides.size() - 1; i >= 0; i--) {
      w = sides.get(i).lift(w, Cast.to(projectors.get(i), compute));
    }
    return w;
  }

  private NDArray onSide(Side side) {
    int i = sides.indexOf(side);
    return i < 0 ? null : projectors.get(i);
  }

  /**
   * Draws the projectors for re-draw {@code index}; moves the moments by the policy unless this is
   * the first draw. Projectors, m and v are overwritten in place, never replaced: the step's scope
   * may have borrowed them, and a borrowed array must stay the same array.
   */
  void draw(long index, NDArray gradient) {
    double[] g = gradient == null ? null : Projector.toDoubleArray(gradient);
    try (NDManager tmp = owner.newSubManager()) {
      List<NDArray> next = new ArrayList<>();
      List<MomentTransport.Change> changes = new ArrayList<>();
      for (int i = 0; i < sides.size(); i++) {
        Side side = sides.get(i);
        int d = side.dimension(spec.rows(), spec.cols());
        next.add(dtype == DataType.FLOAT32
            ? Projector.toNDArray(tmp, source.floatProjection(spec, side, rank, index, g), d, rank)
            : Projector.toNDArray(tmp, source.projection(spec, side, rank, index, g), d, rank, dtype));
        changes.add(new MomentTransport.Change(side, projectors.get(i), next.get(i)));
      }
      if (redraw >= 0) {
        switch (policy) {
          case RESET -> adam.reset();
          case CARRY -> { }
          case TRANSPORT -> {
            MomentTransport.Moments moved = MomentTransport.transport(
                adam.m, adam.v, adam.t, changes, hyper.beta1(), hyper.beta2());
            try (NDArray m = moved.m(); NDArray v = moved.v()) {
              HostArrays.copyInto(adam.m, m);
              HostArrays.copyInto(adam.v, v);
            }
          }
        }
      }
      for (int i = 0; i < sides.size(); i++) {
        HostArrays.copyInto(projectors.get(i), next.get(i));
      }
    }
    redraw = index;
    syncMeta();
  }

  /** "projector" for one side; "projector_left" and "projector_right" for two. */
  private String projectorKey(int i) {
    return twoSided() ? "projector_" + sides.get(i).name().toLowerCase(Locale.ROOT) : "projector";
  }

  /** Moments, projectors and re-draw bookkeeping, by checkpoint key (live arrays). */
  Map<String, NDArray> state() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    out.put("exp_avg", adam.m);
    out.put("exp_avg_sq", adam.v);
    for (int i = 0; i < sides.size(); i++) {
      out.put(projectorKey(i), projectors.get(i));
    }
    out.put("projection_meta", meta);
    return out;
  }

  /** Restores what {@link #state()} saved, and Adam's step count. */
  void restore(Map<String, NDArray> saved, long step) {
    StateArrays.copyInto(adam.m, saved, "exp_avg", spec.name());
    StateArrays.copyInto(adam.v, saved, "exp_avg_sq", spec.name());
    for (int i = 0; i < sides.size(); i++) {
      StateArrays.copyInto(projectors.get(i), saved, projectorKey(i), spec.name());
    }
    StateArrays.copyInto(meta, saved, "projection_meta", spec.name());
    long[] m = meta.toLongArray();
    redraw = m[0];
    pendingIndex = m[1];
    adam.t = step;
  }

  long persistedBytes() {
    long bytes = 0;
    for (Side side : sides) {
      bytes += source.persistedBytes(side.dimension(spec.rows(), spec.cols()), rank);
    }
    return bytes;
  }

  @Override
  public void close() {
    adam.close();
    projectors.forEach(NDArray::close);
    meta.close();
  }
}
