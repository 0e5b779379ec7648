package io.orthoslice.worker;

/**
 * The coordinator refused a request for a reason retrying cannot fix (a wrong run token, a malformed
 * or oversized request, another protocol version). The message is one line for the user.
 */
public final class CoordinatorRefusedException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final boolean tokenRefused;

  /**
   * @param tokenRefused the refusal was of this worker's run token
   */
  public CoordinatorRefusedException(String message, boolean tokenRefused, Throwable cause) {
    super(message, cause);
    this.tokenRefused = tokenRefused;
  }

  public boolean tokenRefused() {
    return tokenRefused;
  }
}
