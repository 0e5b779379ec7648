package io.orthoslice.common.logging;

import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Who this process is in its log lines: role and, for a worker, its name and later its id. Kept
 * as one process-wide system property that the logback pattern reads on every event
 * ({@code %property{orthoslice.log.who}}), so lines from any thread carry it — gRPC callbacks,
 * executors, timers and shutdown hooks included — unlike an MDC entry, which only the thread that
 * set it sees.
 */
public final class LogIdentity {

  /** The system property the logback patterns print. */
  public static final String PROPERTY = "orthoslice.log.who";

  private LogIdentity() {}

  /**
   * Sets the identity; {@code id} may be null or blank (the coordinator has none). Every entry point
   * names itself here first, so this is also where java.util.logging (gRPC's logger) is bridged into
   * SLF4J, once per process: gRPC's records then follow logback.xml's levels and pattern instead of
   * printing a stack trace per failed name resolution or undecodable request on stderr.
   */
  public static synchronized void set(String role, String id) {
    if (fixed) {
      return;
    }
    put(role, id);
  }

  /**
   * Sets the identity for good: later {@link #set} calls change nothing. A process that holds two roles
   * (a coordinator hosting a worker) names itself once, as both, rather than by whichever role spoke last.
   */
  public static synchronized void fix(String role, String id) {
    put(role, id);
    fixed = true;
  }

  private static boolean fixed; // guarded by the class

  private static synchronized void put(String role, String id) {
    if (role == null || role.isBlank()) {
      throw new IllegalArgumentException("log role must be non-blank, got '" + role + "'");
    }
    if (!SLF4JBridgeHandler.isInstalled()) {
      SLF4JBridgeHandler.removeHandlersForRootLogger();
      SLF4JBridgeHandler.install();
    }
    System.setProperty(PROPERTY, id == null || id.isBlank() ? role : role + " " + id);
  }

  /** The identity as the log lines show it, or null when none was set. */
  public static String current() {
    return System.getProperty(PROPERTY);
  }
}
