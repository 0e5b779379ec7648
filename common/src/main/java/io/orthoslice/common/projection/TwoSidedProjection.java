package io.orthoslice.common.projection;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * A Kronecker-factored projection of an m x n matrix: {@code R = P_L^T G P_R} (r x r), lifted back
 * as {@code P_L U P_R^T}. It is GaLore's {@code full} projection and the two-sided adapter {@code W
 * + P_L M P_R^T} with only M trained. Training draws the same pair through {@link
 * ProjectionSource#twoSided} (slots 1 and 2 of {@link SeedSequence}) and applies it one side at a
 * time (train.ProjectedState, whose test checks that the two agree).
 *
 * @param left P_L, m x r
 * @param right P_R, n x r
 */
public record TwoSidedProjection(NDArray left, NDArray right) implements AutoCloseable {

  public TwoSidedProjection {
    if (left == null || right == null) {
      throw new IllegalArgumentException("left and right projectors must not be null");
    }
    if (left.getShape().dimension() != 2 || right.getShape().dimension() != 2) {
      throw new IllegalArgumentException(
          "left and right must be matrices, got " + left.getShape() + " and " + right.getShape());
    }
    if (left.getShape().get(1) != right.getShape().get(1)) {
      throw new IllegalArgumentException(
          "left and right must have the same rank (columns), got "
              + left.getShape()
              + " and "
              + right.getShape());
    }
  }

  /** Factors drawn from two seeds (one per side), each d x r of a seeded kind. */
  public static TwoSidedProjection random(
      ProjectionKind kind,
      long leftSeed,
      long rightSeed,
      int m,
      int n,
      int r,
      NDManager manager,
      DataType dtype) {
    return new TwoSidedProjection(
        Projector.toNDArray(manager, Projector.random(kind, leftSeed, m, r), m, r, dtype),
        Projector.toNDArray(manager, Projector.random(kind, rightSeed, n, r), n, r, dtype));
  }

  /** GaLore {@code full}: top-r left and right singular vectors of g (m x n), from one SVD. */
  public static TwoSidedProjection svd(
      double[] g, int m, int n, int r, NDManager manager, DataType dtype) {
    double[][] uv = Projector.svdFactors(g, m, n, r, true, true);
    return new TwoSidedProjection(
        Projector.toNDArray(manager, uv[0], m, r, dtype),
        Projector.toNDArray(manager, uv[1], n, r, dtype));
  }

  /** Bytes to persist both factors: two seeds, or both matrices for SVD. */
  public static long persistedBytes(ProjectionKind kind, int m, int n, int r, int elementBytes) {
    return kind.persistedBytes(m, r, elementBytes) + kind.persistedBytes(n, r, elementBytes);
  }

  public int rank() {
    return Math.toIntExact(left.getShape().get(1));
  }

  /** {@code P_L^T G P_R} (r x r), owned by g's manager. */
  public NDArray project(NDArray g) {
    NDManager out = g.getManager();
    try (NDManager scope = out.newSubManager()) {
      scope.tempAttachAll(g, left, right);
      NDArray gr = g.matMul(right); // (m, r)
      NDArray r = gr.transpose().matMul(left).transpose(); // (r, r) = P_L^T G P_R
      r.attach(out);
      return r;
    }
  }

  /** {@code P_L U P_R^T} (m x n), owned by u's manager. */
  public NDArray lift(NDArray u) {
    NDManager out = u.getManager();
    try (NDManager scope = out.newSubManager()) {
      scope.tempAttachAll(u, left, right);
      NDArray ur = u.matMul(right.transpose()); // (r, n)
      NDArray w = ur.transpose().matMul(left.transpose()).transpose(); // (m, n)
      w.attach(out);
      return w;
    }
  }

  @Override
  public void close() {
    left.close();
    right.close();
  }
}
