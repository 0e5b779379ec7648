package io.orthoslice.worker;

/** The update's round merged without it: its slice of that round is lost, nothing else; the worker takes the next round. */
public final class LateUpdateException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public LateUpdateException(String message, Throwable cause) {
    super(message, cause);
  }
}
