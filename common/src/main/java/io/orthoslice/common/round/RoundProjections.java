package io.orthoslice.common.round;

import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.ProjectionSource;
import io.orthoslice.common.projection.Side;

/**
 * A worker's projectors as its training loop asks for them: slot k's slices of the current round's
 * plan. A worker that keeps its optimizer across rounds points it at each new plan ({@link #use});
 * the projectors' re-draw index is then only bookkeeping, the plan decides what is drawn.
 */
public final class RoundProjections implements ProjectionSource {

  private RoundPlan plan;
  private int slot;

  public RoundProjections(RoundPlan plan, int slot) {
    use(plan, slot);
  }

  /** Points at {@code plan}'s slices for {@code slot} (checked against the plan's participants). */
  public void use(RoundPlan plan, int slot) {
    if (slot < 0 || slot >= plan.participants()) {
      throw new IllegalArgumentException("slot must be in [0, " + plan.participants() + "), got " + slot);
    }
    this.plan = plan;
    this.slot = slot;
  }

  @Override
  public double[] projection(ParameterSpec spec, Side s, int r, long redraw, double[] gradient) {
    check(spec, s, r);
    return plan.slice(spec, slot);
  }

  /** The plan's float32 slice: made once per plan and slot, in the background for a prefetched plan. */
  @Override
  public float[] floatProjection(ParameterSpec spec, Side s, int r, long redraw, double[] gradient) {
    check(spec, s, r);
    return plan.floatSlice(spec, slot);
  }

  private void check(ParameterSpec spec, Side s, int r) {
    if (r != plan.rank() || s != RoundPlan.side(spec)) {
      throw new IllegalArgumentException("round plan has rank " + plan.rank() + " and side " + RoundPlan.side(spec)
          + " for " + spec.name() + ", asked for rank " + r + " side " + s);
    }
  }

  @Override
  public boolean needsGradient() {
    return false;
  }

  @Override
  public long persistedBytes(int d, int r) {
    return Long.BYTES;
  }
}
