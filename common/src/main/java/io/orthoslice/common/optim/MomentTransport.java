package io.orthoslice.common.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.projection.Side;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * LDAdam's projection-aware update of Adam moments when the projector changes from P_old to P_new
 * (both d x r with orthonormal columns), steps 4 and 6 of docs/methods.md section 5:
 *
 * <pre>
 *   Q  = P_new^T P_old                                  (r x r, change of basis)
 *   m' = Q m            (LEFT)      m' = m Q^T          (RIGHT)
 *   v' = c2 |(Q∘Q)(v/c2 - m²/c1²) + m'²/c1²|            (Q∘Q on the same side as Q)
 * </pre>
 *
 * with {@code c1 = 1 - beta1^t}, {@code c2 = 1 - beta2^t} and t the number of completed steps. The
 * second line re-expresses the momentum in the new basis; the third moves the bias-corrected
 * variance around the mean, assuming coordinates are uncorrelated, and adds back the new mean's
 * square. The reference code squares Q twice (Q∘Q∘Q∘Q); we follow the formula as written.
 *
 * <p>For projectors with orthonormal columns (ORTHOGONAL, SVD, LDAdam's power iteration) Q is the
 * exact change of basis; for Gaussian or Rademacher ones it is only approximately so.
 */
public final class MomentTransport {

  /** Transported first and second moments, in the reduced shape of the side. */
  public record Moments(NDArray m, NDArray v) {}

  private MomentTransport() {}

  /** One side's change of projector, P_old -> P_new (both d x r), acting on {@code side}. */
  public record Change(Side side, NDArray pOld, NDArray pNew) {
    public Change {
      if (!pOld.getShape().equals(pNew.getShape())) {
        throw new IllegalArgumentException("old and new projectors must have the same shape, got "
            + pOld.getShape() + " and " + pNew.getShape());
      }
    }
  }

  /**
   * Returns new moments; the inputs are not modified. With t = 0 nothing has been accumulated, so v
   * is copied unchanged (as LDAdam does). The results belong to {@code m}'s manager.
   */
  public static Moments transport(
      NDArray m,
      NDArray v,
      long t,
      NDArray pOld,
      NDArray pNew,
      Side side,
      double beta1,
      double beta2) {
    return transport(m, v, t, List.of(new Change(side, pOld, pNew)), beta1, beta2);
  }

  /**
   * The same rule for moments projected on several sides at once. For a two-sided (Kronecker)
   * projection {@code R = L^T G R_} the change of basis of vec(m) is {@code Q_R ⊗ Q_L}, and since
   * {@code (A ⊗ B)∘(A ⊗ B) = (A∘A) ⊗ (B∘B)} LDAdam's rule on vec(m) is applying each side's Q (and
   * Q∘Q) in turn: {@code m' = Q_L m Q_R^T}.
   */
  public static Moments transport(
      NDArray m, NDArray v, long t, List<Change> changes, double beta1, double beta2) {
    if (t < 0) {
      throw new IllegalArgumentException("step t must be >= 0, got " + t);
    }
    if (changes.isEmpty()) {
      throw new IllegalArgumentException("at least one side's change of projector is needed");
    }
    List<NDArray> inputs = new ArrayList<>(List.of(m, v));
    for (Change c : changes) {
      inputs.add(c.pOld());
      inputs.add(c.pNew());
    }
    NDManager out = m.getManager();
    try (NDManager scope = out.newSubManager()) {
      scope.tempAttachAll(distinct(inputs.toArray(new NDArray[0])));
      List<NDArray> qs = new ArrayList<>();
      for (Change c : changes) {
        qs.add(c.pNew().transpose().matMul(c.pOld())); // (r, r)
      }
      NDArray mNew = m;
      for (int i = 0; i < changes.size(); i++) {
        mNew = inBasis(qs.get(i), mNew, changes.get(i).side());
      }
      NDArray vNew;
      if (t == 0) {
        vNew = v.duplicate();
      } else {
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = 1 - Math.pow(beta2, t);
        NDArray moved = v.div(c2).subi(m.square().divi(c1 * c1));
        for (int i = 0; i < changes.size(); i++) {
          moved = inBasis(qs.get(i).square(), moved, changes.get(i).side());
        }
        vNew = moved.addi(mNew.square().divi(c1 * c1)).abs().muli(c2);
      }
      mNew.attach(out);
      vNew.attach(out);
      return new Moments(mNew, vNew);
    }
  }

  /**
   * Transports an {@link AdamW.State} kept on a projected gradient in place: its m and v are
   * replaced (the old arrays closed, the new ones owned by the same manager) and t is kept, so the
   * bias correction continues where it was.
   */
  public static void transport(
      AdamW.State state, NDArray pOld, NDArray pNew, Side side, double beta1, double beta2) {
    Moments moved = transport(state.m, state.v, state.t, pOld, pNew, side, beta1, beta2);
    state.m.close();
    state.v.close();
    state.m = moved.m();
    state.v = moved.v();
  }

  /** Q x for LEFT (x is r x n), x Q^T for RIGHT (x is m x r); the result follows q's manager. */
  static NDArray inBasis(NDArray q, NDArray x, Side side) {
    return side == Side.LEFT ? q.matMul(x) : q.matMul(x.transpose()).transpose();
  }

  /** The same array passed twice (e.g. P_old == P_new) must be temp-attached only once. */
  static NDArray[] distinct(NDArray... arrays) {
    Set<NDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (NDArray a : arrays) {
      if (a != null) {
        seen.add(a);
      }
    }
    return seen.toArray(new NDArray[0]);
  }
}
