package io.orthoslice.common.optim;

/**
 * LDAdam's left case (docs/methods.md section 5, steps 1-9) in plain double loops over double[][],
 * written independently of the NDArray implementation: the SVD comes from a Jacobi eigensolver on a
 * a^T and the QR from modified Gram-Schmidt (which gives diag(R) > 0). The right case is run by
 * feeding transposed gradients.
 */
final class LdAdamReference {

  private final int r;
  private final double b1;
  private final double b2;
  private final double eps;
  private final double rho;
  private final boolean ef;
  double[][] p; // (m, r)
  double[][] mom; // (r, n)
  double[][] vel; // (r, n)
  double[][] err; // (m, n)
  long t;

  LdAdamReference(int m, int n, LdAdam.Hyper h) {
    this.r = h.rank();
    this.b1 = h.beta1();
    this.b2 = h.beta2();
    this.eps = h.eps();
    this.rho = h.rho();
    this.ef = h.errorFeedback();
    this.mom = new double[r][n];
    this.vel = new double[r][n];
    this.err = new double[m][n];
  }

  /** One step on gradient g (m x n); returns Delta (m x n). */
  double[][] step(double[][] g) {
    double[][] a = add(g, err, 1);
    double[][] pNew;
    if (t == 0) {
      pNew = topEigenvectors(mul(a, tr(a)), r);
    } else {
      double[][] b = add(scale(mul(p, mom), rho / (1 - Math.pow(b1, t))), a, 1 - rho);
      pNew = gramSchmidt(mul(b, mul(tr(b), p)));
    }
    double[][] low = mul(tr(pNew), a);
    if (ef) {
      a = add(a, mul(pNew, low), -1);
    }
    double[][] mNew = t == 0 ? mom : mul(mul(tr(pNew), p), mom);
    if (ef && t > 0) {
      double k = b1 / (1 - b1);
      a = add(add(a, mul(p, mom), k), mul(pNew, mNew), -k);
    }
    if (t > 0) {
      double[][] q = mul(tr(pNew), p);
      double c1 = 1 - Math.pow(b1, t);
      double c2 = 1 - Math.pow(b2, t);
      double[][] centered = new double[vel.length][vel[0].length];
      for (int i = 0; i < vel.length; i++) {
        for (int j = 0; j < vel[0].length; j++) {
          centered[i][j] = vel[i][j] / c2 - mom[i][j] * mom[i][j] / (c1 * c1);
        }
      }
      double[][] q2 = new double[r][r];
      for (int i = 0; i < r; i++) {
        for (int j = 0; j < r; j++) {
          q2[i][j] = q[i][j] * q[i][j];
        }
      }
      double[][] moved = mul(q2, centered);
      for (int i = 0; i < vel.length; i++) {
        for (int j = 0; j < vel[0].length; j++) {
          vel[i][j] = c2 * Math.abs(moved[i][j] + mNew[i][j] * mNew[i][j] / (c1 * c1));
        }
      }
      mom = mNew;
    }
    double c1 = 1 - Math.pow(b1, t + 1);
    double c2 = 1 - Math.pow(b2, t + 1);
    double[][] dir = new double[r][mom[0].length];
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < mom[0].length; j++) {
        mom[i][j] = b1 * mom[i][j] + (1 - b1) * low[i][j];
        vel[i][j] = b2 * vel[i][j] + (1 - b2) * low[i][j] * low[i][j];
        dir[i][j] = (mom[i][j] / c1) / (Math.sqrt(vel[i][j] / c2) + eps);
      }
    }
    p = pNew;
    if (ef) {
      err = a;
    }
    t++;
    return mul(p, dir);
  }

  static double[][] mul(double[][] x, double[][] y) {
    double[][] z = new double[x.length][y[0].length];
    for (int i = 0; i < x.length; i++) {
      for (int k = 0; k < y.length; k++) {
        for (int j = 0; j < y[0].length; j++) {
          z[i][j] += x[i][k] * y[k][j];
        }
      }
    }
    return z;
  }

  static double[][] tr(double[][] x) {
    double[][] z = new double[x[0].length][x.length];
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x[0].length; j++) {
        z[j][i] = x[i][j];
      }
    }
    return z;
  }

  /** x + k y. */
  static double[][] add(double[][] x, double[][] y, double k) {
    double[][] z = new double[x.length][x[0].length];
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x[0].length; j++) {
        z[i][j] = x[i][j] + k * y[i][j];
      }
    }
    return z;
  }

  static double[][] scale(double[][] x, double k) {
    return add(new double[x.length][x[0].length], x, k);
  }

  /** Modified Gram-Schmidt on the columns of y: Q with R's diagonal positive. */
  static double[][] gramSchmidt(double[][] y) {
    int d = y.length;
    int cols = y[0].length;
    double[][] q = new double[d][cols];
    for (int j = 0; j < cols; j++) {
      double[] v = new double[d];
      for (int i = 0; i < d; i++) {
        v[i] = y[i][j];
      }
      for (int k = 0; k < j; k++) {
        double dot = 0;
        for (int i = 0; i < d; i++) {
          dot += q[i][k] * v[i];
        }
        for (int i = 0; i < d; i++) {
          v[i] -= dot * q[i][k];
        }
      }
      double norm = 0;
      for (double x : v) {
        norm += x * x;
      }
      norm = Math.sqrt(norm);
      for (int i = 0; i < d; i++) {
        q[i][j] = v[i] / norm;
      }
    }
    return q;
  }

  /**
   * The k leading eigenvectors (as columns, by decreasing eigenvalue) of a symmetric matrix by
   * cyclic Jacobi rotations, each flipped so its largest-magnitude entry is positive.
   */
  static double[][] topEigenvectors(double[][] sym, int k) {
    int d = sym.length;
    double[][] a = scale(sym, 1);
    double[][] v = new double[d][d];
    for (int i = 0; i < d; i++) {
      v[i][i] = 1;
    }
    for (int sweep = 0; sweep < 100; sweep++) {
      double off = 0;
      for (int i = 0; i < d; i++) {
        for (int j = i + 1; j < d; j++) {
          off += a[i][j] * a[i][j];
        }
      }
      if (off < 1e-30) {
        break;
      }
      for (int pp = 0; pp < d; pp++) {
        for (int qq = pp + 1; qq < d; qq++) {
          if (a[pp][qq] == 0) {
            continue;
          }
          double theta = (a[qq][qq] - a[pp][pp]) / (2 * a[pp][qq]);
          double tt = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          if (theta == 0) {
            tt = 1;
          }
          double c = 1 / Math.sqrt(tt * tt + 1);
          double s = tt * c;
          for (int i = 0; i < d; i++) { // A <- A J
            double aip = a[i][pp];
            double aiq = a[i][qq];
            a[i][pp] = c * aip - s * aiq;
            a[i][qq] = s * aip + c * aiq;
          }
          for (int i = 0; i < d; i++) { // A <- J^T A
            double api = a[pp][i];
            double aqi = a[qq][i];
            a[pp][i] = c * api - s * aqi;
            a[qq][i] = s * api + c * aqi;
          }
          for (int i = 0; i < d; i++) { // V <- V J
            double vip = v[i][pp];
            double viq = v[i][qq];
            v[i][pp] = c * vip - s * viq;
            v[i][qq] = s * vip + c * viq;
          }
        }
      }
    }
    Integer[] order = new Integer[d];
    for (int i = 0; i < d; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (x, y) -> Double.compare(a[y][y], a[x][x]));
    double[][] out = new double[d][k];
    for (int c = 0; c < k; c++) {
      int col = order[c];
      int arg = 0;
      for (int i = 1; i < d; i++) {
        if (Math.abs(v[i][col]) > Math.abs(v[arg][col])) {
          arg = i;
        }
      }
      double sign = v[arg][col] < 0 ? -1 : 1;
      for (int i = 0; i < d; i++) {
        out[i][c] = sign * v[i][col];
      }
    }
    return out;
  }
}
