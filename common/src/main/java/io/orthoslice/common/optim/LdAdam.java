package io.orthoslice.common.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import java.util.ArrayList;
import java.util.List;

/**
 * LDAdam (Robert et al., "LDAdam: Adaptive Optimization from Low-Dimensional Gradient Statistics",
 * ICLR 2025; code IST-DASLab/LDAdam), the nine steps of docs/methods.md section 5, for one m x n matrix.
 * Written for either {@link Side}; the reference code's right case is its left case transposed, and
 * so is ours. The side follows {@link Side#forShape} (RIGHT for square matrices, where the
 * reference code picks LEFT; the algorithm is symmetric, only the layout differs).
 *
 * <p>Per step, with a = g + e (the new gradient plus the stored error):
 *
 * <ol>
 *   <li>subspace: at t = 0 the top-r singular vectors of a; afterwards one warm-started block power
 *       iteration on {@code b = rho lift(m, P_prev)/(1 - beta1^t) + (1 - rho) a};
 *   <li>{@code a~ = project(a, P)}; with error feedback (EF) {@code e = a - lift(a~, P)};
 *   <li>moments moved to the new basis by {@link MomentTransport}; with EF the state-compression
 *       error {@code beta1/(1-beta1) (lift(m, P_prev) - lift(m', P))} is added to e;
 *   <li>Adam on a~ and {@code Delta = lift(m^ / (sqrt(v^) + eps), P)}.
 * </ol>
 *
 * The caller applies {@code W <- W (1 - lr wd) - lr Delta}.
 *
 * <p>Precision: the element-wise and matrix work runs in the gradient's data type on its device;
 * the SVD at t = 0 and the QR of the power iteration run on the host in float64 through EJML
 * (sign-fixed, so results are deterministic) and are cast back. The QR input is only d x r.
 *
 * <p>Memory: P (d x r) plus m and v in the reduced shape, and, with EF, the m x n error buffer that
 * the reference code keeps in {@code p.grad}; here it lives in the state, so the caller may free
 * its gradient.
 *
 * <p>Over 300 lines because it is one algorithm, the nine steps of docs/methods.md section 5, kept in one
 * place to be read against it.
 */
public final class LdAdam {

  /** Hyper-parameters; {@link #defaults} gives the reference code's values. */
  public record Hyper(
      double beta1, double beta2, double eps, double rho, int rank, boolean errorFeedback) {
    public Hyper {
      new io.orthoslice.common.config.AdamHyper(beta1, beta2, eps); // Adam's own checks
      if (!(rho >= 0 && rho < 1)) {
        throw new IllegalArgumentException("rho must be in [0, 1), got " + rho);
      }
      if (rank <= 0) {
        throw new IllegalArgumentException("rank must be positive, got " + rank);
      }
    }

    /** beta1 0.908, beta2 0.99, eps 1e-8, rho 0.908, error feedback on (LDAdam's defaults). */
    public static Hyper defaults(int rank) {
      return new Hyper(0.908, 0.99, 1e-8, 0.908, rank, true);
    }
  }

  /** Per-matrix state; its arrays belong to the manager given at creation. */
  public static final class State implements AutoCloseable {
    private final NDManager owner;
    private final int rows;
    private final int cols;
    private final Side side;
    private NDArray projector; // (d, r); null before the first step
    private NDArray m; // reduced shape
    private NDArray v; // reduced shape
    private NDArray error; // (rows, cols); null without error feedback
    private long t;

    private State(NDManager owner, int rows, int cols, NDArray m, NDArray v, NDArray error) {
      this.owner = owner;
      this.rows = rows;
      this.cols = cols;
      this.side = Side.forShape(rows, cols);
      this.m = m;
      this.v = v;
      this.error = error;
    }

    public Side side() {
      return side;
    }

    /** Completed steps. */
    public long step() {
      return t;
    }

    /** P of the last step (d x r), or null before the first. */
    public NDArray projector() {
      return projector;
    }

    public NDArray firstMoment() {
      return m;
    }

    public NDArray secondMoment() {
      return v;
    }

    /** The residual that the next gradient is added to, or null without error feedback. */
    public NDArray error() {
      return error;
    }

    /** Bytes held between steps. */
    public long bytes() {
      long b = 0;
      for (NDArray a : new NDArray[] {projector, m, v, error}) {
        b += a == null ? 0 : a.size() * a.getDataType().getNumOfBytes();
      }
      return b;
    }

    @Override
    public void close() {
      for (NDArray a : new NDArray[] {projector, m, v, error}) {
        if (a != null) {
          a.close();
        }
      }
    }
  }

  private final Hyper hyper;

  public LdAdam(Hyper hyper) {
    this.hyper = hyper;
  }

  public Hyper hyper() {
    return hyper;
  }

  /** Zero state for a matrix of {@code shape}, owned by {@code owner}. */
  public State newState(NDManager owner, Shape shape, DataType dtype) {
    if (shape.dimension() != 2) {
      throw new IllegalArgumentException("LDAdam needs a matrix, got shape " + shape);
    }
    int rows = Math.toIntExact(shape.get(0));
    int cols = Math.toIntExact(shape.get(1));
    Side side = Side.forShape(rows, cols);
    Projector.checkRank(side.dimension(rows, cols), hyper.rank());
    Shape reduced = new Shape(side.reducedShape(rows, cols, hyper.rank()));
    return new State(
        owner,
        rows,
        cols,
        owner.zeros(reduced, dtype),
        owner.zeros(reduced, dtype),
        hyper.errorFeedback() ? owner.zeros(shape, dtype) : null);
  }

  /**
   * Rebuilds a state from checkpointed arrays, which are attached to {@code owner}. The projector
   * is null only at step 0; the error is null exactly when error feedback is off.
   */
  public State restore(
      NDManager owner,
      Shape shape,
      long step,
      NDArray projector,
      NDArray m,
      NDArray v,
      NDArray error) {
    State s = newState(owner, shape, m.getDataType());
    Shape reduced = s.m.getShape();
    if (!m.getShape().equals(reduced) || !v.getShape().equals(reduced)) {
      throw new IllegalArgumentException(
          "moments must have shape " + reduced + ", got " + m.getShape() + " and " + v.getShape());
    }
    int d = s.side.dimension(s.rows, s.cols);
    Shape pShape = new Shape(d, hyper.rank());
    if (step < 0
        || (step == 0) != (projector == null)
        || (projector != null && !projector.getShape().equals(pShape))) {
      throw new IllegalArgumentException(
          "projector must be null at step 0 and "
              + pShape
              + " after, got step "
              + step
              + " and "
              + (projector == null ? "null" : projector.getShape()));
    }
    if (hyper.errorFeedback() != (error != null)
        || (error != null && !error.getShape().equals(shape))) {
      throw new IllegalArgumentException(
          "error buffer must be "
              + (hyper.errorFeedback() ? shape : "null")
              + " with errorFeedback="
              + hyper.errorFeedback()
              + ", got "
              + (error == null ? "null" : error.getShape()));
    }
    s.close();
    owner.attachAll(MomentTransport.distinct(projector, m, v, error));
    s.projector = projector;
    s.m = m;
    s.v = v;
    s.error = error;
    s.t = step;
    return s;
  }

  /**
   * One LDAdam step: updates {@code s} and returns Delta (m x n), owned by {@code grad}'s manager.
   * {@code grad} is only read. Temporaries live in a sub-manager closed before returning.
   */
  public NDArray direction(NDArray grad, State s) {
    if (!grad.getShape().equals(new Shape(s.rows, s.cols))) {
      throw new IllegalArgumentException(
          "gradient shape must be (" + s.rows + ", " + s.cols + "), got " + grad.getShape());
    }
    double b1 = hyper.beta1();
    double b2 = hyper.beta2();
    Side side = s.side;
    long t = s.t;
    NDManager caller = grad.getManager();
    List<NDArray> retired = new ArrayList<>();
    NDArray delta;
    try (NDManager scope = caller.newSubManager()) {
      scope.tempAttachAll(MomentTransport.distinct(grad, s.projector, s.m, s.v, s.error));
      NDArray a = s.error == null ? grad : grad.add(s.error); // (m, n): a_t = g_t + e_t
      NDArray p = t == 0 ? topSingularVectors(a, s, scope) : powerIteration(a, s, scope); // (d, r)
      NDArray low = side.project(a, p); // reduced
      NDArray residual = hyper.errorFeedback() ? a.sub(side.lift(low, p)) : null;
      NDArray m = s.m;
      NDArray v = s.v;
      if (t > 0) {
        MomentTransport.Moments moved =
            MomentTransport.transport(s.m, s.v, t, s.projector, p, side, b1, b2);
        if (residual != null) {
          NDArray stateError = side.lift(s.m, s.projector).subi(side.lift(moved.m(), p));
          residual.addi(stateError.muli(b1 / (1 - b1)));
        }
        m = moved.m();
        v = moved.v();
      }
      m = m.mul(b1).addi(low.mul(1 - b1));
      v = v.mul(b2).addi(low.square().muli(1 - b2));
      double c1 = 1 - Math.pow(b1, t + 1);
      double c2 = 1 - Math.pow(b2, t + 1);
      NDArray lowStep = m.div(c1).divi(v.div(c2).sqrt().addi(hyper.eps()));
      delta = side.lift(lowStep, p);

      // Commit: the new state moves to the owner; the old arrays are closed once the scope has
      // handed them back, so a failure above leaves the state untouched.
      for (NDArray old : new NDArray[] {s.projector, s.m, s.v, s.error}) {
        if (old != null) {
          retired.add(old);
        }
      }
      s.owner.attachAll(MomentTransport.distinct(p, m, v, residual));
      delta.attach(caller);
      s.projector = p;
      s.m = m;
      s.v = v;
      s.error = residual;
      s.t = t + 1;
    }
    retired.forEach(NDArray::close);
    return delta;
  }

  /** t = 0: P from the SVD of a (LEFT: U[:, :r], RIGHT: V[:, :r]). */
  private NDArray topSingularVectors(NDArray a, State s, NDManager scope) {
    int d = s.side.dimension(s.rows, s.cols);
    double[] p = Projector.svd(Projector.toDoubleArray(a), s.rows, s.cols, hyper.rank(), s.side);
    return Projector.toNDArray(scope, p, d, hyper.rank(), a.getDataType());
  }

  /**
   * t > 0: {@code b = rho lift(m, P_prev)/(1 - beta1^t) + (1 - rho) a}, then one block power step
   * warm-started at P_prev, P = QR(b b^T P_prev) (LEFT) or QR(b^T b P_prev) (RIGHT).
   */
  private NDArray powerIteration(NDArray a, State s, NDManager scope) {
    double rho = hyper.rho();
    NDArray b =
        s.side
            .lift(s.m, s.projector)
            .muli(rho / (1 - Math.pow(hyper.beta1(), s.t)))
            .addi(a.mul(1 - rho)); // (m, n)
    NDArray y =
        s.side == Side.LEFT
            ? b.matMul(b.transpose().matMul(s.projector)) // (m, r)
            : b.transpose().matMul(b.matMul(s.projector)); // (n, r)
    int d = s.side.dimension(s.rows, s.cols);
    double[] q = Projector.orthonormalize(Projector.toDoubleArray(y), d, hyper.rank());
    return Projector.toNDArray(scope, q, d, hyper.rank(), a.getDataType());
  }
}
