package io.orthoslice.common.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * A matrix parameter's true shape (rows x cols: Hugging Face's out x in) and the larger shape a GEMM
 * runs it at, the difference zeros ({@link GemmAlignment} says why and how far). The parameter itself
 * never changes shape; only the step's compute copy is padded.
 */
public record PaddedMatrix(long rows, long cols, long paddedRows, long paddedCols) {

  public PaddedMatrix {
    if (rows < 1 || cols < 1 || paddedRows < rows || paddedCols < cols) {
      throw new IllegalArgumentException("a padded matrix needs 1 <= rows <= paddedRows and 1 <= cols <= paddedCols,"
          + " got " + rows + " x " + cols + " padded to " + paddedRows + " x " + paddedCols);
    }
  }

  /** Whether any padding is added (else every method here is the identity and need not be called). */
  public boolean padded() {
    return paddedRows != rows || paddedCols != cols;
  }

  /**
   * W (rows, cols) as (paddedRows, paddedCols) in {@code dtype}, zeros outside, on the autograd tape: a
   * zero fill and one copy into the top-left block, which is also the cast to {@code dtype} (torch's
   * {@code copy_} into a slice, whose backward hands that block of the gradient back to W in W's
   * type). The result belongs to W's manager.
   */
  public NDArray pad(NDArray w, DataType dtype) {
    NDArray out = w.getManager().zeros(new Shape(paddedRows, paddedCols), dtype);
    out.set(new NDIndex(":{}, :{}", rows, cols), w);
    return out;
  }

  /** x (..., paddedCols) whose padded columns are 0, as (..., cols): a view, in x's manager. */
  public NDArray trimInput(NDArray x) {
    if (paddedCols == cols) {
      return x;
    }
    // split, not an indexed get(): split's backward is a concatenation (see Llama.RotaryEmbedding).
    NDList parts = x.split(new long[] {cols}, x.getShape().dimension() - 1);
    parts.subNDList(1).close();
    return parts.get(0);
  }

  /** y (..., rows) as (..., paddedRows), zeros appended, in y's manager. */
  public NDArray padOutput(NDArray y) {
    if (paddedRows == rows) {
      return y;
    }
    Shape s = y.getShape();
    NDArray zeros = y.getManager().zeros(s.slice(0, s.dimension() - 1).add(paddedRows - rows), y.getDataType());
    return NDArrays.concat(new NDList(y, zeros), -1);
  }
}
