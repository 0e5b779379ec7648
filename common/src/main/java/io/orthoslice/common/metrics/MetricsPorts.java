package io.orthoslice.common.metrics;

/**
 * The metrics ports every place agrees on: the processes' defaults, the launcher, and the files
 * under deploy/ (a test checks them against these constants).
 */
public final class MetricsPorts {

  /** The coordinator's default {@code --metrics-port}. */
  public static final int COORDINATOR = 9400;
  /** A worker's default {@code --metrics-port}; the launcher gives worker i {@code WORKER + i}. */
  public static final int WORKER = 9401;
  /** {@code --metrics-port} value that turns the endpoint off. */
  public static final int OFF = -1;
  /** The command-line flag, the same for the coordinator, the worker and the launcher. */
  public static final String FLAG = "--metrics-port";
  /** Seconds a process keeps serving metrics after its run, the same flag for every role. */
  public static final String LINGER_FLAG = "--metrics-linger";
  /** The paths served. */
  public static final String METRICS_PATH = "/metrics";
  public static final String HEALTH_PATH = "/healthz";

  private MetricsPorts() {}
}
