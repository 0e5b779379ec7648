package io.orthoslice.common.wire;

/**
 * A tensor on the wire that breaks the format: bad version, dtype, shape, length, order or
 * checksum. The gRPC services answer it with INVALID_ARGUMENT and the message as description.
 */
public class WireFormatException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  public WireFormatException(String message) {
    super(message);
  }
}
