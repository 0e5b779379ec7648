package io.orthoslice.common.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.projection.ProjectionKind;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MomentTransportTest {

  private static final double B1 = 0.9;
  private static final double B2 = 0.95;
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
  void sameSubspaceLeavesTheStateUnchangedOnBothSides() {
    NDArray p = projector(1, 6, 3);
    for (Side side : Side.values()) {
      Shape reduced = side == Side.LEFT ? new Shape(3, 5) : new Shape(5, 3);
      NDArray m = random(reduced, 2, false);
      NDArray v = moments(m, 3);
      MomentTransport.Moments moved = MomentTransport.transport(m, v, 7, p, p, side, B1, B2);
      assertTrue(maxAbsDiff(m, moved.m()) < 1e-12, side + " m");
      assertTrue(maxAbsDiff(v, moved.v()) < 1e-12, side + " v");
      assertSame(nd, moved.m().getManager());
    }
  }

  @Test
  void leftTransportMatchesTheFormulaInPlainLoops() {
    int d = 6;
    int r = 3;
    int n = 4;
    long t = 5;
    NDArray pOld = projector(4, d, r);
    NDArray pNew = projector(5, d, r);
    NDArray m = random(new Shape(r, n), 6, false);
    NDArray v = moments(m, 7);
    MomentTransport.Moments moved =
        MomentTransport.transport(m, v, t, pOld, pNew, Side.LEFT, B1, B2);

    double[][] q = LdAdamReference.mul(LdAdamReference.tr(rows(pNew)), rows(pOld));
    double[][] mm = rows(m);
    double[][] vv = rows(v);
    double[][] mNew = LdAdamReference.mul(q, mm);
    double c1 = 1 - Math.pow(B1, t);
    double c2 = 1 - Math.pow(B2, t);
    double[][] vNew = new double[r][n];
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int k = 0; k < r; k++) {
          s += q[i][k] * q[i][k] * (vv[k][j] / c2 - mm[k][j] * mm[k][j] / (c1 * c1));
        }
        vNew[i][j] = c2 * Math.abs(s + mNew[i][j] * mNew[i][j] / (c1 * c1));
      }
    }
    assertTrue(maxAbsDiff(mNew, rows(moved.m())) < 1e-12);
    assertTrue(maxAbsDiff(vNew, rows(moved.v())) < 1e-12);
  }

  /**
   * Two-sided moments (r x r, projected by L and R) are LDAdam's rule on the vectorized moments
   * with the Kronecker change of basis Q_L ⊗ Q_R, worked out here in plain loops.
   */
  @Test
  void twoSidedTransportIsTheRuleOnTheVectorizedMomentsWithAKroneckerBasisChange() {
    int r = 3;
    long t = 6;
    NDArray lOld = projector(20, 6, r);
    NDArray lNew = projector(21, 6, r);
    NDArray rOld = projector(22, 5, r);
    NDArray rNew = projector(23, 5, r);
    NDArray m = random(new Shape(r, r), 24, false);
    NDArray v = moments(m, 25);
    MomentTransport.Moments moved = MomentTransport.transport(m, v, t,
        List.of(new MomentTransport.Change(Side.RIGHT, rOld, rNew), new MomentTransport.Change(Side.LEFT, lOld, lNew)),
        B1, B2);

    double[][] ql = LdAdamReference.mul(LdAdamReference.tr(rows(lNew)), rows(lOld));
    double[][] qr = LdAdamReference.mul(LdAdamReference.tr(rows(rNew)), rows(rOld));
    int k = r * r; // row-major vec: vec(Q_L X Q_R^T) = (Q_L ⊗ Q_R) vec(X)
    double[][] kron = new double[k][k];
    for (int i = 0; i < k; i++) {
      for (int j = 0; j < k; j++) {
        kron[i][j] = ql[i / r][j / r] * qr[i % r][j % r];
      }
    }
    double[] mm = m.toDoubleArray();
    double[] vv = v.toDoubleArray();
    double c1 = 1 - Math.pow(B1, t);
    double c2 = 1 - Math.pow(B2, t);
    double[][] mNew = new double[r][r];
    double[][] vNew = new double[r][r];
    for (int i = 0; i < k; i++) {
      double sm = 0;
      double sv = 0;
      for (int j = 0; j < k; j++) {
        sm += kron[i][j] * mm[j];
        sv += kron[i][j] * kron[i][j] * (vv[j] / c2 - mm[j] * mm[j] / (c1 * c1));
      }
      mNew[i / r][i % r] = sm;
      vNew[i / r][i % r] = c2 * Math.abs(sv + sm * sm / (c1 * c1));
    }
    assertTrue(maxAbsDiff(mNew, rows(moved.m())) < 1e-12);
    assertTrue(maxAbsDiff(vNew, rows(moved.v())) < 1e-12);
    // And with unchanged projectors nothing moves.
    MomentTransport.Moments same = MomentTransport.transport(m, v, t,
        List.of(new MomentTransport.Change(Side.RIGHT, rOld, rOld), new MomentTransport.Change(Side.LEFT, lOld, lOld)),
        B1, B2);
    assertTrue(maxAbsDiff(m, same.m()) < 1e-12);
    assertTrue(maxAbsDiff(v, same.v()) < 1e-12);
  }

  @Test
  void rightTransportIsTheTransposeOfLeftTransport() {
    NDArray pOld = projector(8, 7, 2);
    NDArray pNew = projector(9, 7, 2);
    NDArray m = random(new Shape(5, 2), 10, false);
    NDArray v = moments(m, 11);
    MomentTransport.Moments right =
        MomentTransport.transport(m, v, 3, pOld, pNew, Side.RIGHT, B1, B2);
    MomentTransport.Moments left =
        MomentTransport.transport(m.transpose(), v.transpose(), 3, pOld, pNew, Side.LEFT, B1, B2);
    assertTrue(maxAbsDiff(left.m().transpose(), right.m()) < 1e-14);
    assertTrue(maxAbsDiff(left.v().transpose(), right.v()) < 1e-14);
  }

  @Test
  void flippingProjectorColumnSignsFlipsMomentRowsAndKeepsTheVariance() {
    double[] p = Projector.random(ProjectionKind.ORTHOGONAL, 12, 5, 2);
    double[] flipped = p.clone();
    for (int i = 0; i < 5; i++) {
      flipped[i * 2 + 1] = -flipped[i * 2 + 1];
    }
    NDArray m = random(new Shape(2, 3), 13, false);
    NDArray v = moments(m, 14);
    MomentTransport.Moments moved =
        MomentTransport.transport(
            m,
            v,
            4,
            nd.create(p, new Shape(5, 2)),
            nd.create(flipped, new Shape(5, 2)),
            Side.LEFT,
            B1,
            B2);
    double[][] expected = rows(m);
    for (int j = 0; j < 3; j++) {
      expected[1][j] = -expected[1][j];
    }
    assertTrue(maxAbsDiff(expected, rows(moved.m())) < 1e-12);
    assertTrue(maxAbsDiff(v, moved.v()) < 1e-12);
  }

  @Test
  void adamStateIsReplacedInPlaceWithoutLeakingAndKeepsItsStep() {
    NDManager owner = nd.newSubManager();
    NDArray m = random(new Shape(4, 2), 15, false);
    NDArray v = moments(m, 16);
    AdamW.State state = new AdamW.State(m.duplicate(), v.duplicate(), 9);
    state.m.attach(owner);
    state.v.attach(owner);
    NDArray pOld = projector(17, 6, 2);
    NDArray pNew = projector(18, 6, 2);
    MomentTransport.Moments expected =
        MomentTransport.transport(m, v, 9, pOld, pNew, Side.RIGHT, B1, B2);
    MomentTransport.transport(state, pOld, pNew, Side.RIGHT, B1, B2);
    assertEquals(2, owner.getManagedArrays().size());
    assertSame(owner, state.m.getManager());
    assertEquals(9, state.t);
    assertTrue(maxAbsDiff(expected.m(), state.m) < 1e-15);
    assertTrue(maxAbsDiff(expected.v(), state.v) < 1e-15);
  }

  private NDArray projector(long seed, int d, int r) {
    return Projector.toNDArray(
        nd, Projector.random(ProjectionKind.ORTHOGONAL, seed, d, r), d, r, DataType.FLOAT64);
  }

  private NDArray random(Shape shape, long seed, boolean positive) {
    SplittableRandom rng = new SplittableRandom(seed);
    double[] x = new double[(int) shape.size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = positive ? rng.nextDouble() : rng.nextDouble() * 2 - 1;
    }
    return nd.create(x, shape);
  }

  /** A plausible second moment for m: at least m^2 (the variance part is positive). */
  private NDArray moments(NDArray m, long seed) {
    return m.square().add(random(m.getShape(), seed, true).mul(0.1));
  }

  private static double[][] rows(NDArray a) {
    int m = (int) a.getShape().get(0);
    int n = (int) a.getShape().get(1);
    double[] f = a.toDoubleArray();
    double[][] x = new double[m][n];
    for (int i = 0; i < m; i++) {
      System.arraycopy(f, i * n, x[i], 0, n);
    }
    return x;
  }

  private static double maxAbsDiff(NDArray a, NDArray b) {
    return maxAbsDiff(rows(a), rows(b));
  }

  private static double maxAbsDiff(double[][] a, double[][] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
      }
    }
    return m;
  }
}
