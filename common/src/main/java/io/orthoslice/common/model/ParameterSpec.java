package io.orthoslice.common.model;

/**
 * One named parameter: a matrix (rows x cols, {@code y = x W^T}) or, when cols is 0, a vector.
 *
 * @param role which training rule applies: PROJECTED matrices (q, k, v, o, gate, up, down) are the
 *     ones low-rank methods project; the rest train densely.
 */
public record ParameterSpec(String name, int rows, int cols, Role role) {

  public enum Role { EMBEDDING, PROJECTED, NORM, HEAD }

  public boolean isMatrix() {
    return cols > 0;
  }

  public long[] shape() {
    return isMatrix() ? new long[] {rows, cols} : new long[] {rows};
  }

  public long numel() {
    return isMatrix() ? (long) rows * cols : rows;
  }
}
