package io.orthoslice.common.projection;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Pairwise-orthogonal worker slices for the distributed method (docs/methods.md section 7.6, our
 * construction): one semi-orthogonal Q (d x K r) per (round, matrix), worker k gets columns {@code
 * [k r, (k+1) r)}. Because {@code P_j^T P_k = 0} for j != k, the K lifted updates live in
 * orthogonal subspaces and their plain sum is a rank <= K r step, full rank when K r = d.
 *
 * <p>Also the merge rules of the baselines: {@link #mergeMean} for the same or independently drawn
 * projectors.
 */
public final class OrthogonalSlices {

  private OrthogonalSlices() {}

  /**
   * Q (d x workers*r, row-major): the sign-fixed QR of a Gaussian drawn from {@code seed}; equal to
   * {@code Projector.random(ORTHOGONAL, seed, d, workers * r)}.
   */
  public static double[] basis(long seed, int d, int workers, int r) {
    long total = checkSlices(d, workers, r);
    return Projector.random(ProjectionKind.ORTHOGONAL, seed, d, (int) total);
  }

  /**
   * A cheap Q (d x workers*r, row-major) with orthonormal columns: workers*r distinct columns of the
   * orthonormal DCT-II matrix, chosen by a seeded permutation of the d frequencies, with every row's sign
   * flipped by a seeded coin (a subsampled randomized cosine transform). Drawing it costs O(d K r) (one
   * cosine table of 4d values, then a look-up per entry) where {@link #basis}'s QR costs O(d (K r)^2); its
   * columns are exactly orthonormal in real arithmetic (to about 1e-15 here), but the subspace is not
   * uniformly distributed, so it is a mode of its own ({@code orthogonal-dct}), measured against the QR's.
   * Pure Java in a fixed order: the same bits on every JVM.
   */
  public static double[] dctBasis(long seed, int d, int workers, int r) {
    int n = (int) checkSlices(d, workers, r);
    PortableRandom rng = new PortableRandom(seed);
    double[] sign = new double[d];
    for (int i = 0; i < d; i++) {
      sign[i] = rng.nextSign();
    }
    int[] freq = new int[d];
    for (int i = 0; i < d; i++) {
      freq[i] = i;
    }
    for (int i = 0; i < n; i++) { // the first n of a uniform permutation (Fisher-Yates)
      int j = i + (int) (rng.nextDouble() * (d - i));
      int t = freq[i];
      freq[i] = freq[j];
      freq[j] = t;
    }
    // cos(pi (2i + 1) j / (2d)) has period 4d in (2i + 1) j.
    double[] cos = new double[4 * d];
    for (int t = 0; t < cos.length; t++) {
      cos[t] = StrictMath.cos(Math.PI * t / (2.0 * d));
    }
    double c0 = StrictMath.sqrt(1.0 / d);
    double c = StrictMath.sqrt(2.0 / d);
    double[] q = new double[Math.multiplyExact(d, n)];
    long period = 4L * d;
    for (int i = 0; i < d; i++) {
      for (int col = 0; col < n; col++) {
        int j = freq[col];
        q[i * n + col] = sign[i] * (j == 0 ? c0 : c) * cos[(int) ((2L * i + 1) * j % period)];
      }
    }
    return q;
  }

  /** Worker k's slice {@code P_k = Q[:, k r : (k+1) r]} (d x r, row-major). */
  public static double[] slice(double[] q, int d, int workers, int r, int k) {
    int width = (int) checkSlices(d, workers, r);
    if (q.length != (long) d * width) {
      throw new IllegalArgumentException(
          "basis must hold d*workers*r = " + (long) d * width + " values, got " + q.length);
    }
    if (k < 0 || k >= workers) {
      throw new IllegalArgumentException(
          "worker index k must be in [0, " + workers + "), got " + k);
    }
    double[] p = new double[d * r];
    for (int i = 0; i < d; i++) {
      System.arraycopy(q, i * width + k * r, p, i * r, r);
    }
    return p;
  }

  /**
   * {@code sum_k lift(B_k, P_k)}: the worker-aware merge. factors are the trained reduced matrices
   * (B_k m x r for RIGHT, B_k r x n for LEFT), projectors the matching P_k (d x r). Computed as one
   * product of the concatenations. The result (m x n) belongs to the first factor's manager.
   */
  public static NDArray mergeOrthogonal(
      List<NDArray> factors, List<NDArray> projectors, Side side) {
    return mergeSum(factors, projectors, side, 1.0);
  }

  /**
   * {@code (1/K) sum_k lift(B_k, P_k)}: the merge of the 'same P' and 'independent P' baselines.
   */
  public static NDArray mergeMean(List<NDArray> factors, List<NDArray> projectors, Side side) {
    return mergeSum(factors, projectors, side, 1.0 / factors.size());
  }

  private static NDArray mergeSum(
      List<NDArray> factors, List<NDArray> projectors, Side side, double scale) {
    if (factors.isEmpty() || factors.size() != projectors.size()) {
      throw new IllegalArgumentException(
          "need one projector per factor and at least one of each, got "
              + factors.size()
              + " factors and "
              + projectors.size()
              + " projectors");
    }
    NDManager out = factors.get(0).getManager();
    try (NDManager scope = out.newSubManager()) {
      // The 'same P' baseline passes one array K times; attaching it twice would lose its owner.
      Set<NDArray> inputs = Collections.newSetFromMap(new IdentityHashMap<>());
      inputs.addAll(factors);
      inputs.addAll(projectors);
      scope.tempAttachAll(inputs.toArray(new NDArray[0]));
      // RIGHT: [A_1 .. A_K] (m, K r) [P_1 .. P_K]^T (K r, n); LEFT: [P_1 .. P_K] (m, K r) [B_1; ..;
      // B_K].
      NDArray p = NDArrays.concat(new NDList(projectors.toArray(new NDArray[0])), 1);
      NDArray b =
          NDArrays.concat(new NDList(factors.toArray(new NDArray[0])), side == Side.RIGHT ? 1 : 0);
      NDArray sum = side.lift(b, p);
      NDArray result = scale == 1.0 ? sum : sum.muli(scale);
      result.attach(out);
      return result;
    }
  }

  private static long checkSlices(int d, int workers, int r) {
    if (workers <= 0) {
      throw new IllegalArgumentException("workers must be positive, got " + workers);
    }
    if (r <= 0) {
      throw new IllegalArgumentException("rank r must be positive, got " + r);
    }
    long total = (long) workers * r;
    if (total > d) {
      throw new IllegalArgumentException(
          "workers*r must be <= d for orthogonal slices, got "
              + workers
              + "*"
              + r
              + " = "
              + total
              + " > d = "
              + d);
    }
    return total;
  }
}
