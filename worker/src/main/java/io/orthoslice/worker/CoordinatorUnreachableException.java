package io.orthoslice.worker;

/**
 * The coordinator could not be reached: unavailable past {@code --give-up-after}, or a TLS
 * handshake that failed. The message is one line for the user; the CLI prints it without a trace.
 */
public final class CoordinatorUnreachableException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public CoordinatorUnreachableException(String message, Throwable cause) {
    super(message, cause);
  }
}
