package io.orthoslice.worker;

/** The coordinator forgot this worker (it was restarted, or dropped it) or went away in the middle of a call: whatever the current round had done is lost with it, and the worker joins again. */
public final class CoordinatorLostException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public CoordinatorLostException(String message, Throwable cause) {
    super(message, cause);
  }
}
