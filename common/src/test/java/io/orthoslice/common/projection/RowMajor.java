package io.orthoslice.common.projection;

/** Plain-loop row-major matrix arithmetic for test expectations, independent of EJML and DJL. */
final class RowMajor {

  private RowMajor() {}

  /** (a: p x q) (b: q x s). */
  static double[] mul(double[] a, double[] b, int p, int q, int s) {
    double[] c = new double[p * s];
    for (int i = 0; i < p; i++) {
      for (int k = 0; k < q; k++) {
        double aik = a[i * q + k];
        for (int j = 0; j < s; j++) {
          c[i * s + j] += aik * b[k * s + j];
        }
      }
    }
    return c;
  }

  static double[] transpose(double[] a, int p, int q) {
    double[] t = new double[p * q];
    for (int i = 0; i < p; i++) {
      for (int j = 0; j < q; j++) {
        t[j * p + i] = a[i * q + j];
      }
    }
    return t;
  }

  static double maxAbsDiff(double[] a, double[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("length " + a.length + " != " + b.length);
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  /** max |a^T a - I| for a d x r matrix. */
  static double orthonormalityError(double[] a, int d, int r) {
    double[] g = mul(transpose(a, d, r), a, r, d, r);
    double m = 0;
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < r; j++) {
        m = Math.max(m, Math.abs(g[i * r + j] - (i == j ? 1 : 0)));
      }
    }
    return m;
  }

  static double[] gaussian(long seed, int count) {
    java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
    double[] v = new double[count];
    for (int i = 0; i < count; i++) {
      v[i] = rng.nextDouble() * 2 - 1;
    }
    return v;
  }
}
