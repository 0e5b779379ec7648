package io.orthoslice.worker;

/**
 * The coordinator cannot be reached, but it had said on this worker's presence stream that the run
 * finished (its last round merged and its last checkpoint was written): there is nothing to retry
 * for, and the worker ends as a finished run's worker does. Only a finished run says so; a coordinator
 * that crashed or stopped on a failure never did, and is still waited for.
 */
public final class RunFinishedException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public RunFinishedException(String message, Throwable cause) {
    super(message, cause);
  }
}
