package io.orthoslice.common.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.projection.Side;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LdAdamTest {

  private static final LdAdam.Hyper HYPER = LdAdam.Hyper.defaults(2);
  private NDManager nd;

  @BeforeEach
  void open() {
    nd = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    nd.close();
  }

  @Test
  void fewStepsOnATallMatrixMatchThePlainJavaReference() {
    // 4 x 3 is RIGHT; the reference runs the left case on the transposes.
    assertMatchesReference(4, 3, HYPER, DataType.FLOAT64, 1e-10);
  }

  @Test
  void fewStepsOnAWideMatrixMatchThePlainJavaReference() {
    assertMatchesReference(3, 4, HYPER, DataType.FLOAT64, 1e-10);
  }

  @Test
  void withoutErrorFeedbackStepsMatchTheReferenceAndNoBufferIsKept() {
    LdAdam.Hyper noEf = new LdAdam.Hyper(0.908, 0.99, 1e-8, 0.908, 2, false);
    assertMatchesReference(4, 3, noEf, DataType.FLOAT64, 1e-10);
    assertNull(new LdAdam(noEf).newState(nd, new Shape(4, 3), DataType.FLOAT64).error());
  }

  @Test
  void float32StepsStayCloseToTheFloat64Reference() {
    assertMatchesReference(4, 3, HYPER, DataType.FLOAT32, 2e-4);
  }

  @Test
  void firstStepErrorBufferHoldsExactlyWhatTheProjectionDropped() {
    int m = 5;
    int n = 3;
    double[][] g = gradient(new SplittableRandom(1), m, n);
    LdAdam opt = new LdAdam(HYPER);
    LdAdam.State s = opt.newState(nd, new Shape(m, n), DataType.FLOAT64);
    opt.direction(nd.create(flat(g), new Shape(m, n)), s);
    assertEquals(Side.RIGHT, s.side());
    double[][] p = rows(s.projector());
    // RIGHT: e = g - g P P^T
    double[][] expected =
        LdAdamReference.add(
            g, LdAdamReference.mul(LdAdamReference.mul(g, p), LdAdamReference.tr(p)), -1);
    assertTrue(maxAbsDiff(expected, rows(s.error())) < 1e-12);
  }

  @Test
  void laterErrorBufferAlsoHoldsTheStateCompressionError() {
    int m = 8;
    int n = 5;
    SplittableRandom rng = new SplittableRandom(2);
    // A small rho lets the new gradient turn the subspace, so the state term is far from zero.
    LdAdam.Hyper hyper = new LdAdam.Hyper(0.908, 0.99, 1e-8, 0.1, 2, true);
    LdAdam opt = new LdAdam(hyper);
    LdAdam.State s = opt.newState(nd, new Shape(m, n), DataType.FLOAT64);
    opt.direction(nd.create(flat(gradient(rng, m, n)), new Shape(m, n)), s);
    double[][] p0 = rows(s.projector());
    double[][] m0 = rows(s.firstMoment()); // (m, r)
    double[][] e0 = rows(s.error());
    double[][] g1 = gradient(rng, m, n);
    opt.direction(nd.create(flat(g1), new Shape(m, n)), s);
    double[][] p1 = rows(s.projector());

    double[][] a = LdAdamReference.add(g1, e0, 1);
    double[][] pp1 = LdAdamReference.mul(p1, LdAdamReference.tr(p1));
    double[][] gradientError = LdAdamReference.add(a, LdAdamReference.mul(a, pp1), -1);
    // m' = m0 Q^T with Q = P1^T P0, so lift(m', P1) = m0 P0^T P1 P1^T.
    double[][] before = LdAdamReference.mul(m0, LdAdamReference.tr(p0));
    double[][] stateError = LdAdamReference.add(before, LdAdamReference.mul(before, pp1), -1);
    double k = hyper.beta1() / (1 - hyper.beta1());
    double[][] expected = LdAdamReference.add(gradientError, stateError, k);

    assertTrue(
        maxAbs(stateError) > 0.05, "the subspace must have moved for this test to mean anything");
    assertTrue(maxAbsDiff(expected, rows(s.error())) < 1e-12);
  }

  @Test
  void nativeResourceCountIsFlatOverAHundredSteps() {
    int m = 12;
    int n = 8;
    SplittableRandom rng = new SplittableRandom(3);
    LdAdam opt = new LdAdam(LdAdam.Hyper.defaults(3));
    NDManager owner = nd.newSubManager();
    LdAdam.State s = opt.newState(owner, new Shape(m, n), DataType.FLOAT32);
    int ownerAfterFirst = -1;
    int rootAfterFirst = -1;
    for (int step = 0; step < 100; step++) {
      try (NDManager stepScope = nd.newSubManager()) {
        NDArray grad =
            stepScope
                .create(flat(gradient(rng, m, n)), new Shape(m, n))
                .toType(DataType.FLOAT32, false);
        NDArray delta = opt.direction(grad, s);
        assertSame(stepScope, delta.getManager());
        assertSame(stepScope, grad.getManager());
        assertEquals(3, stepScope.getManagedArrays().size()); // the float64 source, grad and delta
      }
      if (step == 0) {
        ownerAfterFirst = owner.getManagedArrays().size();
        rootAfterFirst = nd.getManagedArrays().size();
      }
    }
    assertEquals(4, ownerAfterFirst); // P, m, v, error
    assertEquals(ownerAfterFirst, owner.getManagedArrays().size());
    assertEquals(rootAfterFirst, nd.getManagedArrays().size());
    assertSame(owner, s.firstMoment().getManager());
    assertEquals(100, s.step());
    s.close();
    assertEquals(0, owner.getManagedArrays().size());
  }

  @Test
  void aRestoredStateContinuesBitForBitLikeTheOriginal() {
    int m = 3;
    int n = 6;
    SplittableRandom rng = new SplittableRandom(4);
    LdAdam opt = new LdAdam(HYPER);
    LdAdam.State s = opt.newState(nd, new Shape(m, n), DataType.FLOAT64);
    for (int step = 0; step < 3; step++) {
      opt.direction(nd.create(flat(gradient(rng, m, n)), new Shape(m, n)), s);
    }
    LdAdam.State copy =
        opt.restore(
            nd,
            new Shape(m, n),
            s.step(),
            s.projector().duplicate(),
            s.firstMoment().duplicate(),
            s.secondMoment().duplicate(),
            s.error().duplicate());
    NDArray g = nd.create(flat(gradient(rng, m, n)), new Shape(m, n));
    assertArrayEquals(
        opt.direction(g, s).toDoubleArray(), opt.direction(g, copy).toDoubleArray(), 0.0);
    assertThrows(
        IllegalArgumentException.class,
        () ->
            opt.restore(
                nd,
                new Shape(m, n),
                0,
                s.projector(),
                s.firstMoment(),
                s.secondMoment(),
                s.error()));
  }

  @Test
  void rankAboveTheProjectedDimensionIsRejected() {
    LdAdam opt = new LdAdam(LdAdam.Hyper.defaults(4));
    assertThrows(
        IllegalArgumentException.class, () -> opt.newState(nd, new Shape(10, 3), DataType.FLOAT32));
    assertThrows(
        IllegalArgumentException.class, () -> new LdAdam.Hyper(0.9, 0.99, 1e-8, 1.0, 2, true));
  }

  private void assertMatchesReference(
      int m, int n, LdAdam.Hyper hyper, DataType dtype, double tol) {
    Side side = Side.forShape(m, n);
    boolean transpose = side == Side.RIGHT;
    LdAdamReference ref =
        transpose ? new LdAdamReference(n, m, hyper) : new LdAdamReference(m, n, hyper);
    LdAdam opt = new LdAdam(hyper);
    LdAdam.State s = opt.newState(nd, new Shape(m, n), dtype);
    SplittableRandom rng = new SplittableRandom(17);
    for (int step = 0; step < 6; step++) {
      double[][] g = gradient(rng, m, n);
      double[][] expected = ref.step(transpose ? LdAdamReference.tr(g) : g);
      NDArray delta = opt.direction(nd.create(flat(g), new Shape(m, n)).toType(dtype, false), s);
      assertEquals(dtype, delta.getDataType());
      double[][] got = rows(delta);
      double diff = maxAbsDiff(transpose ? LdAdamReference.tr(expected) : expected, got);
      assertTrue(diff < tol, "step " + step + ": max |Delta - reference| = " + diff);
      if (hyper.errorFeedback()) {
        double[][] err = rows(s.error());
        double errDiff = maxAbsDiff(transpose ? LdAdamReference.tr(ref.err) : ref.err, err);
        assertTrue(errDiff < tol, "step " + step + ": max |e - reference| = " + errDiff);
      }
    }
  }

  private static double[][] gradient(SplittableRandom rng, int m, int n) {
    double[][] g = new double[m][n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        g[i][j] = rng.nextDouble() * 2 - 1;
      }
    }
    return g;
  }

  private static double[] flat(double[][] x) {
    double[] f = new double[x.length * x[0].length];
    for (int i = 0; i < x.length; i++) {
      System.arraycopy(x[i], 0, f, i * x[0].length, x[0].length);
    }
    return f;
  }

  private static double[][] rows(NDArray a) {
    int m = (int) a.getShape().get(0);
    int n = (int) a.getShape().get(1);
    double[] f = a.toType(DataType.FLOAT64, true).toDoubleArray();
    double[][] x = new double[m][n];
    for (int i = 0; i < m; i++) {
      System.arraycopy(f, i * n, x[i], 0, n);
    }
    return x;
  }

  private static double maxAbsDiff(double[][] a, double[][] b) {
    return maxAbs(LdAdamReference.add(a, b, -1));
  }

  private static double maxAbs(double[][] a) {
    double m = 0;
    for (double[] row : a) {
      for (double x : row) {
        m = Math.max(m, Math.abs(x));
      }
    }
    return m;
  }
}
