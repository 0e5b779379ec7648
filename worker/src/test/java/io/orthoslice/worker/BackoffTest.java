package io.orthoslice.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** The reconnect schedule on a fake clock: no real waiting. */
class BackoffTest {

  private final AtomicLong clockNanos = new AtomicLong();
  private final List<Long> sleeps = new ArrayList<>();

  private Backoff backoff(Duration giveUpAfter) {
    return new Backoff(Backoff.BASE, Backoff.CAP, giveUpAfter, clockNanos::get, ms -> {
      sleeps.add(ms);
      clockNanos.addAndGet(ms * 1_000_000);
    });
  }

  private static StatusRuntimeException unavailable() {
    return Status.UNAVAILABLE.withDescription("io exception\nConnection refused").asRuntimeException();
  }

  @Test
  void delaysDoubleFromTheBaseUpToTheCapAndTheCallSucceedsOnceReachable() {
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger resets = new AtomicInteger();
    String r = backoff(Duration.ofMinutes(10)).call("join", () -> {
      if (calls.incrementAndGet() <= 9) {
        throw unavailable();
      }
      return "joined";
    }, resets::incrementAndGet);
    assertEquals("joined", r);
    assertEquals(List.of(250L, 500L, 1000L, 2000L, 2000L, 2000L, 2000L, 2000L, 2000L), sleeps);
    assertEquals(9, resets.get());
  }

  /** grpc-netty's report of a coordinator that died mid-call is UNKNOWN, not UNAVAILABLE (grpc-java #7376). */
  @Test
  void aChannelClosedUnderACallIsALostConnectionAndRetried() {
    StatusRuntimeException closed = Status.UNKNOWN.withDescription("channel closed")
        .withCause(new java.nio.channels.ClosedChannelException()).asRuntimeException();
    assertTrue(Backoff.connectionLost(closed));
    assertTrue(Backoff.connectionLost(unavailable()));
    assertFalse(Backoff.connectionLost(Status.UNKNOWN.withDescription("a bug on the server").asRuntimeException()));
    assertFalse(Backoff.connectionLost(Status.INVALID_ARGUMENT.asRuntimeException()));
    AtomicInteger calls = new AtomicInteger();
    assertEquals("joined", backoff(Duration.ofMinutes(1)).call("join", () -> {
      if (calls.incrementAndGet() == 1) {
        throw closed;
      }
      return "joined";
    }, () -> {}));
    assertEquals(List.of(250L), sleeps);
  }

  @Test
  void givesUpAfterTheLimitWithOneLine() {
    CoordinatorUnreachableException e = assertThrows(CoordinatorUnreachableException.class,
        () -> backoff(Duration.ofSeconds(5)).call("join", () -> {
          throw unavailable();
        }, () -> {}));
    // 0.25 + 0.5 + 1 + 2 = 3.75 s, then the last wait is cut to the 1.25 s left.
    assertEquals(List.of(250L, 500L, 1000L, 2000L, 1250L), sleeps);
    assertEquals(5_000_000_000L, clockNanos.get());
    assertTrue(e.getMessage().startsWith("join: coordinator unreachable, gave up after 5.0 s (--give-up-after)"),
        e.getMessage());
    assertTrue(e.getMessage().contains("Connection refused"), e.getMessage());
    assertEquals(1, e.getMessage().lines().count(), e.getMessage());
  }

  @Test
  void otherFailuresAndTlsHandshakeFailuresAreNotRetried() {
    StatusRuntimeException denied = Status.UNAUTHENTICATED.withDescription("wrong run token").asRuntimeException();
    assertSame(denied, assertThrows(StatusRuntimeException.class, () -> backoff(Duration.ofMinutes(1))
        .call("join", () -> {
          throw denied;
        }, () -> {})));
    StatusRuntimeException tls = Status.UNAVAILABLE.withDescription("io exception")
        .withCause(new SSLHandshakeException("PKIX path building failed")).asRuntimeException();
    CoordinatorUnreachableException e = assertThrows(CoordinatorUnreachableException.class,
        () -> backoff(Duration.ofMinutes(1)).call("join", () -> {
          throw tls;
        }, () -> {}));
    assertTrue(e.getMessage().contains("TLS handshake with the coordinator failed")
        && e.getMessage().contains("PKIX path building failed") && e.getMessage().contains("--tls-ca"), e.getMessage());
    assertTrue(sleeps.isEmpty(), sleeps.toString());
  }
}
