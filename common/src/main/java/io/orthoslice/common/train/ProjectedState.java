package io.orthoslice.common.train;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import io.orthoslice.common.optim.MomentTransport;
import io.orthoslice.common.projection.ProjectionSource;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;

/**
 * What GaLore-style projected gradients and one-sided adapters share for one m x n matrix: the
 * projector P (d x r), the Adam moments on the reduced shape, and the rule applied to those moments
 * when P is re-drawn (reset as ReLoRA, carry as GaLore's code, transport as LDAdam).
 */
final class ProjectedState implements AutoCloseable {

  final ParameterSpec spec;
  final Side side;
  final int rank;
  final ProjectionSource source;
  final MethodSpec.StatePolicy policy;
  final AdamW.State adam;
  private final AdamW.Hyper hyper;
  private final NDManager owner;
  private final DataType dtype;
  private NDArray projector;
  private long redraw = -1;
  private long pendingIndex = -1;
  private final NDArray meta; // int64 [redraw, pendingIndex], kept current for checkpoints

  ProjectedState(ParameterSpec spec, int rank, ProjectionSource source, MethodSpec.StatePolicy policy,
      AdamW.Hyper hyper, NDManager owner, DataType dtype) {
    this.spec = spec;
    this.side = Side.forShape(spec.rows(), spec.cols());
    Projector.checkRank(side.dimension(spec.rows(), spec.cols()), rank);
    this.rank = rank;
    this.source = source;
    this.policy = policy;
    this.hyper = hyper;
    this.owner = owner;
    this.dtype = dtype;
    long[] reduced = side.reducedShape(spec.rows(), spec.cols(), rank);
    this.adam = new AdamW.State(owner.zeros(new ai.djl.ndarray.types.Shape(reduced), dtype),
        owner.zeros(new ai.djl.ndarray.types.Shape(reduced), dtype), 0);
    // Until the first draw (an SVD projector waits for the first gradient) P is zero: with a zero
    // factor the forward pass does not depend on it.
    this.projector = owner.zeros(new ai.djl.ndarray.types.Shape(dimension(), rank), dtype);
    this.meta = owner.zeros(new ai.djl.ndarray.types.Shape(2), DataType.INT64);
    syncMeta();
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

  NDArray meta() {
    return meta;
  }

  private void syncMeta() {
    try (NDArray values = HostArrays.of(meta.getManager(), new long[] {redraw, pendingIndex}, meta.getShape())) {
      HostArrays.copyInto(meta, values);
    }
  }

  int dimension() {
    return side.dimension(spec.rows(), spec.cols());
  }

  NDArray projector() {
    return projector;
  }

  long redrawIndex() {
    return redraw;
  }

  long[] reducedShape() {
    return side.reducedShape(spec.rows(), spec.cols(), rank);
  }

  /**
   * Draws P for re-draw {@code index}; moves the moments by the policy unless this is the first
   * draw. P, m and v are overwritten in place, never replaced: the step's scope may have borrowed
   * them, and a borrowed array must stay the same array.
   */
  void draw(long index, NDArray gradient) {
    double[] g = gradient == null ? null : Projector.toDoubleArray(gradient);
    try (NDArray next = Projector.toNDArray(owner, source.projection(spec, side, rank, index, g), dimension(), rank, dtype)) {
      if (redraw >= 0) {
        switch (policy) {
          case RESET -> adam.reset();
          case CARRY -> { }
          case TRANSPORT -> {
            MomentTransport.Moments moved = MomentTransport.transport(
                adam.m, adam.v, adam.t, projector, next, side, hyper.beta1(), hyper.beta2());
            try (NDArray m = moved.m(); NDArray v = moved.v()) {
              HostArrays.copyInto(adam.m, m);
              HostArrays.copyInto(adam.v, v);
            }
          }
        }
      }
      HostArrays.copyInto(projector, next);
    }
    redraw = index;
    syncMeta();
  }

  /** Restores P, the re-draw index and a pending SVD draw from a checkpoint. */
  void restore(java.util.Map<String, NDArray> saved) {
    StateArrays.copyInto(projector, saved, "projector", spec.name());
    StateArrays.copyInto(meta, saved, "projection_meta", spec.name());
    long[] m = meta.toLongArray();
    redraw = m[0];
    pendingIndex = m[1];
  }

  long persistedBytes() {
    return source.persistedBytes(dimension(), rank);
  }

  @Override
  public void close() {
    adam.close();
    projector.close();
    meta.close();
  }
}
