package io.orthoslice.common.model;

import ai.djl.ndarray.NDArray;

/**
 * How the forward pass reads parameters. Training methods differ only here: a full-rank run reads
 * W, an adapter run computes {@code x W^T + (x P) B^T}, a quantized base dequantizes first. The
 * model itself never knows which.
 */
public interface Weights {

  /** A parameter used as a tensor (embedding table, norm gains), in the compute dtype. */
  NDArray dense(String name);

  /** {@code x W^T} for the named matrix W (rows = out, cols = in): (..., in) -> (..., out). */
  NDArray linear(String name, NDArray x);

  /**
   * {@code x W^T} with W zero-padded to {@code shape}'s padded size, so the GEMM runs on aligned
   * dimensions ({@link GemmAlignment}): x is (..., paddedCols) with zeros in its padded columns, the
   * result (..., paddedRows) with zeros in its padded columns. This default computes the true product
   * and pads around it (the same values, no faster); a view that forms W pads W itself.
   */
  default NDArray linear(String name, NDArray x, PaddedMatrix shape) {
    return shape.padOutput(linear(name, shape.trimInput(x)));
  }
}
