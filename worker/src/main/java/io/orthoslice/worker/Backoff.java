package io.orthoslice.worker;

import io.grpc.Status;
import java.nio.channels.ClosedChannelException;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retries a call while the coordinator is UNAVAILABLE: waits {@code base}, doubling up to
 * {@code cap}, and gives up once {@code giveUpAfter} has passed since the first failure with a
 * {@link CoordinatorUnreachableException} (one line). A failed TLS handshake is not retried: a
 * wrong CA does not fix itself. The clock and the sleep are injectable, so tests need no real waits.
 */
public final class Backoff {

  private static final Logger LOG = LoggerFactory.getLogger(Backoff.class);

  /** The first delay and the largest one of the worker's reconnects. */
  public static final Duration BASE = Duration.ofMillis(250);
  public static final Duration CAP = Duration.ofSeconds(2); // a restarted coordinator is rejoined within 2 s of listening

  /** Waits; {@link Thread#sleep(long)} in production. */
  @FunctionalInterface
  public interface Sleeper {
    void sleep(long millis) throws InterruptedException;
  }

  private final long baseMs;
  private final long capMs;
  private final Duration giveUpAfter;
  private final LongSupplier nanoClock;
  private final Sleeper sleeper;

  public Backoff(Duration base, Duration cap, Duration giveUpAfter, LongSupplier nanoClock, Sleeper sleeper) {
    if (base.toMillis() < 1 || cap.compareTo(base) < 0 || giveUpAfter.isNegative()) {
      throw new IllegalArgumentException("back-off needs 1 ms <= base <= cap and give-up-after >= 0, got base "
          + base + ", cap " + cap + ", give-up-after " + giveUpAfter);
    }
    this.baseMs = base.toMillis();
    this.capMs = cap.toMillis();
    this.giveUpAfter = giveUpAfter;
    this.nanoClock = nanoClock;
    this.sleeper = sleeper;
  }

  /** {@link #BASE} doubling to {@link #CAP}, on the real clock. */
  public static Backoff standard(Duration giveUpAfter) {
    return new Backoff(BASE, CAP, giveUpAfter, System::nanoTime, Thread::sleep);
  }

  /**
   * Runs {@code call}, retrying UNAVAILABLE; {@code beforeRetry} runs before each retry (the client
   * resets the channel's own connect back-off there, so this schedule is the one that counts).
   */
  public <T> T call(String what, Supplier<T> call, Runnable beforeRetry) {
    return call(what, call, beforeRetry, () -> false);
  }

  /**
   * As {@link #call(String, Supplier, Runnable)}, but a lost connection is not retried once {@code runFinished}
   * holds (the coordinator said the run finished before it went away): {@link RunFinishedException} instead.
   */
  public <T> T call(String what, Supplier<T> call, Runnable beforeRetry, BooleanSupplier runFinished) {
    long start = nanoClock.getAsLong();
    long delayMs = baseMs;
    while (true) {
      try {
        return call.get();
      } catch (StatusRuntimeException e) {
        if (!connectionLost(e)) {
          throw e;
        }
        if (runFinished.getAsBoolean()) {
          throw new RunFinishedException(what + ": " + describe(e.getStatus()) + ", after the coordinator said the run"
              + " finished", e);
        }
        if (tlsFailure(e)) {
          throw new CoordinatorUnreachableException(what + ": TLS handshake with the coordinator failed ("
              + rootMessage(e) + "); check --tls-ca against the coordinator's --tls-cert", e);
        }
        long leftMs = (giveUpAfter.toNanos() - (nanoClock.getAsLong() - start)) / 1_000_000;
        if (leftMs <= 0) {
          throw new CoordinatorUnreachableException(String.format(Locale.ROOT,
              "%s: coordinator unreachable, gave up after %.1f s (--give-up-after): %s%s", what,
              giveUpAfter.toMillis() / 1000.0, describe(e.getStatus()),
              " (is it running, at this address, and with --tls-ca if it serves TLS?)"), e);
        }
        long waitMs = Math.min(delayMs, leftMs);
        LOG.info("{}: coordinator unavailable ({}); retrying in {} ms", what, describe(e.getStatus()), waitMs);
        try {
          sleeper.sleep(waitMs);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
        delayMs = Math.min(capMs, delayMs * 2);
        if (runFinished.getAsBoolean()) {
          // Said on the presence stream while this call failed (both come on the one connection, in order,
          // but on different threads): the wait above lets the event arrive.
          throw new RunFinishedException(what + ": " + describe(e.getStatus()) + ", after the coordinator said the run"
              + " finished", e);
        }
        beforeRetry.run();
      }
    }
  }

  /**
   * Whether a call failed because the connection to the coordinator went away: UNAVAILABLE, or
   * UNKNOWN caused by a {@link ClosedChannelException}, which grpc-netty reports when the peer dies
   * while a call is in flight (grpc-java issues 7376 and 10120: "UNKNOWN: channel closed").
   */
  public static boolean connectionLost(StatusRuntimeException e) {
    Status.Code code = e.getStatus().getCode();
    if (code == Status.Code.UNAVAILABLE) {
      return true;
    }
    if (code != Status.Code.UNKNOWN) {
      return false;
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ClosedChannelException) {
        return true;
      }
    }
    return false;
  }

  private static boolean tlsFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SSLException || t.getClass().getSimpleName().equals("NotSslRecordException")) {
        return true;
      }
    }
    return false;
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return oneLine(t.getClass().getSimpleName() + ": " + t.getMessage());
  }

  private static String describe(Status s) {
    return oneLine(s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription()));
  }

  private static String oneLine(String s) {
    return s.replaceAll("\\s*\\R\\s*", " ");
  }
}
