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
}
