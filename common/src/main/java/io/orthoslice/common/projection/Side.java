package io.orthoslice.common.projection;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Which side of a weight W (rows m x cols n, {@code y = x W^T}) a projector P acts on. The rule is
 * GaLore's {@code std}: project the longer dimension away, so the low-rank state is as small as
 * possible.
 *
 * <ul>
 *   <li>RIGHT when m >= n: P is n x r, the projected gradient is {@code R = G P} (m x r), the lift
 *       of a low-rank B (m x r) is {@code B P^T}, and the adapter is {@code W + B P^T}.
 *   <li>LEFT when m < n: P is m x r, {@code R = P^T G} (r x n), the lift of B (r x n) is {@code P
 *       B}, and the adapter is {@code W + P B}.
 * </ul>
 *
 * <p>LDAdam's code picks LEFT for square matrices; we keep this one rule everywhere (LDAdam's
 * algorithm is symmetric under transposition, so the choice changes nothing but the layout).
 */
public enum Side {
  LEFT,
  RIGHT;

  public static Side forShape(int rows, int cols) {
    if (rows <= 0 || cols <= 0) {
      throw new IllegalArgumentException("shape must be positive, got " + rows + " x " + cols);
    }
    return rows >= cols ? RIGHT : LEFT;
  }

  /** The dimension d that P spans: n for RIGHT, m for LEFT; P is d x r. */
  public int dimension(int rows, int cols) {
    return this == RIGHT ? cols : rows;
  }

  /** Shape of the projected gradient / adapter factor: {m, r} for RIGHT, {r, n} for LEFT. */
  public long[] reducedShape(int rows, int cols, int rank) {
    return this == RIGHT ? new long[] {rows, rank} : new long[] {rank, cols};
  }

  /**
   * {@code G P} (RIGHT) or {@code P^T G} (LEFT). The result belongs to {@code g}'s manager; no
   * temporaries are left behind.
   */
  public NDArray project(NDArray g, NDArray p) {
    NDManager out = g.getManager();
    try (NDManager scope = out.newSubManager()) {
      scope.tempAttachAll(g, p);
      // (P^T G) = (G^T P)^T keeps g as the first operand, so the result lands in our scope.
      NDArray r = this == RIGHT ? g.matMul(p) : g.transpose().matMul(p).transpose();
      r.attach(out);
      return r;
    }
  }

  /**
   * {@code R P^T} (RIGHT) or {@code P R} (LEFT): the m x n matrix that a reduced R stands for. The
   * result belongs to {@code reduced}'s manager.
   */
  public NDArray lift(NDArray reduced, NDArray p) {
    NDManager out = reduced.getManager();
    try (NDManager scope = out.newSubManager()) {
      scope.tempAttachAll(reduced, p);
      NDArray w =
          this == RIGHT
              ? reduced.matMul(p.transpose())
              : reduced.transpose().matMul(p.transpose()).transpose();
      w.attach(out);
      return w;
    }
  }
}
