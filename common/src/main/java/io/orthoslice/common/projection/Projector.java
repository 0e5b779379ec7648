package io.orthoslice.common.projection;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.decomposition.qr.QRDecomposition_DDRB_to_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Makes projectors P (d x r, row-major {@code double[]}) on the host in float64.
 *
 * <p>Everything here runs on the CPU with {@link PortableRandom} and EJML so that a projector is a
 * pure function of its inputs: the same seed gives the same bits on every machine, whatever the
 * accelerator. Decompositions are made deterministic by fixing signs: a QR's Q has diag(R) >= 0,
 * and each singular vector has its largest-magnitude entry positive.
 */
public final class Projector {

  private Projector() {}

  /** A random d x r projector of a seeded kind (see {@link ProjectionKind}). */
  public static double[] random(ProjectionKind kind, long seed, int d, int r) {
    checkRank(d, r);
    PortableRandom rng = new PortableRandom(seed);
    double[] p = new double[Math.multiplyExact(d, r)];
    switch (kind) {
      case GAUSSIAN -> {
        double std = 1.0 / StrictMath.sqrt(r);
        for (int i = 0; i < p.length; i++) {
          p[i] = rng.nextGaussian() * std;
        }
      }
      case RADEMACHER -> {
        double scale = 1.0 / StrictMath.sqrt(r);
        for (int i = 0; i < p.length; i++) {
          p[i] = rng.nextSign() * scale;
        }
      }
      case ORTHOGONAL -> {
        for (int i = 0; i < p.length; i++) {
          p[i] = rng.nextGaussian();
        }
        p = orthonormalize(p, d, r);
      }
      case SVD ->
          throw new IllegalArgumentException(
              "projection kind svd needs a gradient, not a seed: use Projector.svd");
      default -> throw new AssertionError(kind);
    }
    return p;
  }

  /**
   * GaLore's projector: the top-r singular vectors of g (m x n, row-major), sorted by decreasing
   * singular value; LEFT gives {@code U[:, :r]} (m x r), RIGHT gives {@code V[:, :r]} (n x r).
   */
  public static double[] svd(double[] g, int m, int n, int r, Side side) {
    double[][] uv = svdFactors(g, m, n, r, side == Side.LEFT, side == Side.RIGHT);
    return side == Side.LEFT ? uv[0] : uv[1];
  }

  /** Top-r left and/or right singular vectors {U_r, V_r}; an entry is null when not requested. */
  static double[][] svdFactors(double[] g, int m, int n, int r, boolean needU, boolean needV) {
    if (g.length != (long) m * n) {
      throw new IllegalArgumentException(
          "gradient must hold m*n = " + (long) m * n + " values, got " + g.length);
    }
    checkRank(Math.min(m, n), r);
    SingularValueDecomposition_F64<DMatrixRMaj> svd =
        DecompositionFactory_DDRM.svd(m, n, needU, needV, true);
    if (!svd.decompose(new DMatrixRMaj(m, n, true, g))) {
      throw new IllegalStateException("SVD did not converge for a " + m + " x " + n + " matrix");
    }
    DMatrixRMaj u = needU ? svd.getU(null, false) : null;
    DMatrixRMaj v = needV ? svd.getV(null, false) : null;
    double[] sv = svd.getSingularValues();
    SingularOps_DDRM.descendingOrder(u, false, sv, svd.numberOfSingularValues(), v, false);
    return new double[][] {
      needU ? leadingColumnsSignFixed(u, r) : null, needV ? leadingColumnsSignFixed(v, r) : null
    };
  }

  /**
   * The Q factor (d x r) of the thin QR of a (d x r, row-major), with signs fixed so diag(R) >= 0.
   * Householder QR keeps Q orthonormal even when a is rank-deficient.
   */
  public static double[] orthonormalize(double[] a, int d, int r) {
    checkRank(d, r);
    if (a.length != (long) d * r) {
      throw new IllegalArgumentException(
          "matrix must hold d*r = " + (long) d * r + " values, got " + a.length);
    }
    // The blocked Householder QR is about twice as fast as the column one from d ~ 1000 and, being
    // single-threaded Java arithmetic, gives the same bits on every JVM.
    QRDecomposition<DMatrixRMaj> qr = new QRDecomposition_DDRB_to_DDRM();
    if (!qr.decompose(new DMatrixRMaj(d, r, true, a))) {
      throw new IllegalStateException("QR failed for a " + d + " x " + r + " matrix");
    }
    DMatrixRMaj q = qr.getQ(null, true);
    DMatrixRMaj rr = qr.getR(null, true);
    double[] out = q.getData().clone();
    for (int j = 0; j < r; j++) {
      if (rr.get(j, j) < 0) {
        for (int i = 0; i < d; i++) {
          out[i * r + j] = -out[i * r + j];
        }
      }
    }
    return out;
  }

  /** A d x r projector as an NDArray of the given type, owned by {@code manager}. */
  public static NDArray toNDArray(NDManager manager, double[] p, int d, int r, DataType dtype) {
    if (p.length != (long) d * r) {
      throw new IllegalArgumentException(
          "projector must hold d*r = " + (long) d * r + " values, got " + p.length);
    }
    return HostArrays.of(manager, p, new Shape(d, r), dtype);
  }

  /** A d x r float32 projector as a float32 NDArray owned by {@code manager} (the caller must not change {@code p}). */
  public static NDArray toNDArray(NDManager manager, float[] p, int d, int r) {
    if (p.length != (long) d * r) {
      throw new IllegalArgumentException(
          "projector must hold d*r = " + (long) d * r + " values, got " + p.length);
    }
    return HostArrays.of(manager, p, new Shape(d, r));
  }

  /** Row-major float64 copy of any floating-point matrix (to bring a projector to the host). */
  public static double[] toDoubleArray(NDArray a) {
    if (a.getDataType() == DataType.FLOAT64) {
      return a.toDoubleArray();
    }
    try (NDArray f64 = a.toType(DataType.FLOAT64, true)) {
      return f64.toDoubleArray();
    }
  }

  /** Rejects ranks a d-dimensional space cannot hold. */
  public static void checkRank(int d, int r) {
    if (d <= 0) {
      throw new IllegalArgumentException("projected dimension d must be positive, got " + d);
    }
    if (r <= 0 || r > d) {
      throw new IllegalArgumentException("rank r must be in [1, d = " + d + "], got " + r);
    }
  }

  private static double[] leadingColumnsSignFixed(DMatrixRMaj full, int r) {
    int d = full.numRows;
    double[] out = new double[d * r];
    for (int j = 0; j < r; j++) {
      int argmax = 0;
      for (int i = 1; i < d; i++) {
        if (Math.abs(full.get(i, j)) > Math.abs(full.get(argmax, j))) {
          argmax = i;
        }
      }
      double sign = full.get(argmax, j) < 0 ? -1.0 : 1.0;
      for (int i = 0; i < d; i++) {
        out[i * r + j] = sign * full.get(i, j);
      }
    }
    return out;
  }
}
