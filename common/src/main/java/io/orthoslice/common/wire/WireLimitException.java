package io.orthoslice.common.wire;

/**
 * Tensor data beyond a size limit (a chunk over {@link TensorCodec#MAX_CHUNK_BYTES}, or more bytes
 * than the stream may carry). The gRPC services answer it with RESOURCE_EXHAUSTED.
 */
public final class WireLimitException extends WireFormatException {

  private static final long serialVersionUID = 1L;

  public WireLimitException(String message) {
    super(message);
  }
}
