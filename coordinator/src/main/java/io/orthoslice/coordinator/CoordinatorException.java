package io.orthoslice.coordinator;

/**
 * A refused request, with the gRPC status code it maps to (the core itself knows nothing of gRPC).
 */
public final class CoordinatorException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** The status codes the core uses, with grpc-java's meaning (Status.java's litmus test). */
  public enum Code {
    /** Malformed or mis-shaped request; do not retry it. */
    INVALID_ARGUMENT,
    /** Not valid in the current state (a late update, a closed round); do not retry as is. */
    FAILED_PRECONDITION,
    /** Unknown worker id: join again. */
    NOT_FOUND,
    /** A known worker id with another worker's key (or none): the caller is not that worker. */
    PERMISSION_DENIED,
    /** Retry at a higher level (ask for the current weights version). */
    ABORTED,
    /** Shutting down; retry later. */
    UNAVAILABLE,
    /** Larger than the run allows (an update beyond its assignment's shapes); do not retry as is. */
    RESOURCE_EXHAUSTED
  }

  private final Code code;

  public CoordinatorException(Code code, String message) {
    super(message);
    this.code = code;
  }

  public Code code() {
    return code;
  }
}
