package io.orthoslice.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.orthoslice.coordinator.RoundResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coordinator served with --tls-cert/--tls-key and a worker trusting --tls-ca, on loopback
 * through Netty: a round completes; a worker trusting another CA, or speaking plaintext, fails
 * with one clear line.
 */
class TlsRoundTest {

  @TempDir Path dir;

  @Test
  @Timeout(120)
  void roundCompletesOverTls() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("pki"));
    try (NettyCoordinator c = new NettyCoordinator(0, certs.cert, certs.key)) {
      ManagedChannel ch = CoordinatorChannels.open("localhost:" + c.port(), certs.ca);
      try (Worker w = new Worker(new CoordinatorClient(ch, ch, NettyCoordinator.TOKEN, Duration.ofSeconds(10)), "tls",
          "cpu", true)) {
        Worker.Summary s = w.run(run -> new WorkerRoundTest.PatternWindows(8));
        assertEquals(1, s.roundsTrained());
        assertTrue(s.bytesSent() > 0 && s.bytesReceived() > 0);
      }
      assertTrue(c.core.record().awaitEnd(Duration.ofSeconds(30)));
      List<RoundResult> h = c.core.record().rounds();
      assertEquals(1, h.size());
      assertEquals(List.of(0), h.get(0).mergedSlots());
      assertEquals(1, c.core.currentWeights().version());
    }
  }

  @Test
  @Timeout(120)
  void wrongCaOrPlaintextFailsWithOneClearLine() throws Exception {
    TestCertificates certs = TestCertificates.create(dir.resolve("pki"));
    TestCertificates other = TestCertificates.create(dir.resolve("other"));
    try (NettyCoordinator c = new NettyCoordinator(0, certs.cert, certs.key)) {
      String target = "localhost:" + c.port();
      long t0 = System.nanoTime();
      CoordinatorUnreachableException wrongCa = assertThrows(CoordinatorUnreachableException.class,
          () -> join(CoordinatorChannels.open(target, other.ca), Duration.ofSeconds(60)));
      // Not retried until the give-up time: a handshake failure is final.
      assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(20).toNanos());
      assertTrue(wrongCa.getMessage().contains("TLS handshake with the coordinator failed")
          && wrongCa.getMessage().contains("--tls-ca"), wrongCa.getMessage());
      assertEquals(1, wrongCa.getMessage().lines().count(), wrongCa.getMessage());

      CoordinatorUnreachableException plain = assertThrows(CoordinatorUnreachableException.class,
          () -> join(CoordinatorChannels.open(target, null), Duration.ofSeconds(1)));
      assertTrue(plain.getMessage().contains("coordinator unreachable, gave up after 1.0 s")
          && plain.getMessage().contains("--tls-ca"), plain.getMessage());
      assertEquals(1, plain.getMessage().lines().count(), plain.getMessage());
      assertTrue(c.core.record().rounds().isEmpty());
    }
  }

  private static void join(ManagedChannel ch, Duration giveUpAfter) {
    try (CoordinatorClient client = new CoordinatorClient(ch, ch, NettyCoordinator.TOKEN, giveUpAfter)) {
      client.join("intruder", "cpu", 1);
    }
  }
}
