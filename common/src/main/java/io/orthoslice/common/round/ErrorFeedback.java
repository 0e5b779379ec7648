package io.orthoslice.common.round;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import io.orthoslice.common.tensor.HostArrays;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.wire.WireTensor;
import java.util.List;
import java.util.Map;

/**
 * Error feedback for a lossy wire: per tensor, the residual {@code e} = what this side meant to send
 * minus what the receiver decodes, added to the next round's change (Seide et al. 2014; Karimireddy
 * et al. 2019), so the quantisation error of every round is sent later instead of lost and the sum of
 * what arrived never drifts from the sum of what was meant by more than one residual.
 *
 * <p>A dense change {@code u} sends {@code Q(u + e)} and keeps {@code e' = u + e - deq}. A projected
 * matrix's factor B lives in its round's slice P, which the next round may replace, so its residual is
 * kept in the full m x n space (in factor units, {@code W_eff = W + alpha lift(B, P)}): the round sends
 * {@code Q(B + project(E, P))}, the residual's part in this slice, and keeps
 * {@code E' = E + lift(B - deq, P)}, which is the part outside the slice plus the new rounding error.
 * Host float32, on the CPU; one instance per sender; distinct tensors may be sent from several
 * threads at once.
 */
public final class ErrorFeedback {

  private final Map<String, float[]> residual = new java.util.concurrent.ConcurrentHashMap<>();

  /** The wire tensors of dense change {@code change} (shape {@code shape}) with this tensor's residual added. */
  public List<WireTensor> dense(String name, float[] change, long[] shape, WirePrecision p) {
    return dense(name, change, shape, p, 1.0);
  }

  /** {@link #dense} sending only the largest fraction {@code density} of the entries; the rest stays in the residual. */
  public List<WireTensor> dense(String name, float[] change, long[] shape, WirePrecision p, double density) {
    float[] u = change.clone();
    float[] e = residual.get(name);
    if (e != null) {
      for (int i = 0; i < u.length; i++) {
        u[i] += e[i];
      }
    }
    List<WireTensor> sent = TensorEncoding.encode(name, u, shape, p, density);
    float[] got = TensorEncoding.decoded(sent, name, shape);
    for (int i = 0; i < u.length; i++) {
      u[i] -= got[i];
    }
    residual.put(name, u);
    return sent;
  }

  /**
   * The wire tensors of factor {@code b} trained on slice {@code projector} (d x r, float64
   * row-major) of an m x n matrix, with the residual's part in this slice added.
   *
   * @param wireName the factor's name on the wire
   * @param matrix the matrix's name, under which its full-space residual is kept
   */
  public List<WireTensor> factor(String wireName, String matrix, float[] b, int rows, int cols, int rank,
      double[] projector, WirePrecision p) {
    return factor(wireName, matrix, b, rows, cols, rank, projector, p, 1.0);
  }

  /** {@link #factor} sending only the largest fraction {@code density} of the factor's entries. */
  public List<WireTensor> factor(String wireName, String matrix, float[] b, int rows, int cols, int rank,
      double[] projector, WirePrecision p, double density) {
    Side side = Side.forShape(rows, cols);
    long[] bShape = side.reducedShape(rows, cols, rank);
    Shape full = new Shape(rows, cols);
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray pk = Projector.toNDArray(m, projector, side.dimension(rows, cols), rank, DataType.FLOAT32);
      float[] e = residual.get(matrix);
      FactorFeedback.Step s = FactorFeedback.step(wireName, HostArrays.of(m, b, new Shape(bShape)),
          e == null ? null : HostArrays.of(m, e, full), pk, side, bShape, p, density, m);
      residual.put(matrix, s.residual().toFloatArray());
      return s.sent();
    }
  }

  /** The residual kept for {@code name} (a copy), or null before its first send. */
  public float[] residual(String name) {
    float[] e = residual.get(name);
    return e == null ? null : e.clone();
  }

  /** Every residual, for a checkpoint (copies, in name order). */
  public Map<String, float[]> state() {
    Map<String, float[]> out = new java.util.TreeMap<>();
    residual.forEach((k, v) -> out.put(k, v.clone()));
    return out;
  }

  /** Continues from {@link #state}. */
  public void restore(Map<String, float[]> state) {
    residual.clear();
    state.forEach((k, v) -> residual.put(k, v.clone()));
  }

}
