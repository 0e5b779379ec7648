package io.orthoslice.common.round;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.Side;
import io.orthoslice.common.wire.WireTensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link ErrorFeedback}'s rule for a projected matrix's factor, computed where the factor lives: a
 * worker keeps every matrix's full-space residual (m x n) on its training device, so a round's
 * encoding moves only the factor (m x r) to the host and back, never an m x n array, and the
 * residual's projection and lift are the device's matmuls. One instance per worker, one thread.
 */
public final class FactorFeedback implements AutoCloseable {

  /** What one step sends, and the residual it leaves (owned by the manager the step was given). */
  record Step(List<WireTensor> sent, NDArray residual) {}

  private final NDManager manager;
  private final Map<String, NDArray> residual = new HashMap<>();

  /** @param manager the device's manager the residuals live in (this instance closes none of it) */
  public FactorFeedback(NDManager manager) {
    this.manager = manager.newSubManager();
  }

  /**
   * The wire tensors of factor {@code b} (on this instance's device, any float type) trained on slice
   * {@code projector} (d x r, float64 row-major) of an m x n matrix, with the residual's part in this
   * slice added; the matrix's residual becomes what the encoding missed, lifted, plus the part of the
   * old residual outside the slice.
   */
  public List<WireTensor> factor(String wireName, String matrix, NDArray b, int rows, int cols, int rank,
      double[] projector, WirePrecision p, double density) {
    Side side = Side.forShape(rows, cols);
    try (NDManager scope = manager.newSubManager()) {
      NDArray pk = Projector.toNDArray(scope, projector, side.dimension(rows, cols), rank, DataType.FLOAT32);
      NDArray factor = b.getDataType() == DataType.FLOAT32 ? b.duplicate() : b.toType(DataType.FLOAT32, true);
      factor.attach(scope);
      Step s = step(wireName, factor, residual.get(matrix), pk, side, side.reducedShape(rows, cols, rank), p, density,
          manager);
      NDArray old = residual.put(matrix, s.residual());
      if (old != null) {
        old.close();
      }
      return s.sent();
    }
  }

  /**
   * One step of the rule: sends {@code Q(B + project(E, P))} and returns {@code E' = E + lift(B - deq, P)}
   * (a new array owned by {@code out}); {@code residual} may be null (none yet) and is not changed.
   */
  static Step step(String wireName, NDArray factor, NDArray residual, NDArray pk, Side side, long[] bShape,
      WirePrecision p, double density, NDManager out) {
    try (NDManager scope = out.newSubManager()) {
      NDArray u = residual == null ? factor : factor.add(side.project(residual, pk));
      DeviceWire.Sent sent = DeviceWire.encode(wireName, u, bShape, p, density, scope);
      NDArray missed = factor.sub(sent.arrives());
      NDArray lifted = side.lift(missed, pk);
      NDArray next = residual == null ? lifted : lifted.addi(residual);
      next.attach(out);
      return new Step(sent.tensors(), next);
    }
  }

  /** The residual kept for {@code matrix}, copied to the host (null before its first send). */
  public float[] residual(String matrix) {
    NDArray e = residual.get(matrix);
    return e == null ? null : e.toFloatArray();
  }

  @Override
  public void close() {
    residual.clear();
    manager.close();
  }
}
