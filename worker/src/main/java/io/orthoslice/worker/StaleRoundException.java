package io.orthoslice.worker;

/** What the worker asked for is gone (the round closed, the weights moved on): it asks for the current round. */
public final class StaleRoundException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public StaleRoundException(String message, Throwable cause) {
    super(message, cause);
  }
}
