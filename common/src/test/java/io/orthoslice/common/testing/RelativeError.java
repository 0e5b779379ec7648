package io.orthoslice.common.testing;

/** How far one array of values is from a reference, for parity tests. */
public final class RelativeError {

  private RelativeError() {}

  /** ||a - b|| / ||b||, in double. */
  public static double of(float[] a, float[] b) {
    double d = 0;
    double n = 0;
    for (int i = 0; i < b.length; i++) {
      d += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
      n += (double) b[i] * b[i];
    }
    return Math.sqrt(d / n);
  }
}
