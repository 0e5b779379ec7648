package io.orthoslice.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.orthoslice.worker.cli.OrthosliceCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/** A worker started before its coordinator keeps reconnecting with growing delays and joins once it is up. */
class ReconnectTest {

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  @Timeout(60)
  void workerStartedFirstRetriesWithGrowingCappedDelaysAndJoinsWhenTheCoordinatorComesUp() throws Exception {
    int port = freePort();
    List<Long> sleeps = new CopyOnWriteArrayList<>();
    Backoff backoff = new Backoff(Duration.ofMillis(50), Duration.ofMillis(400), Duration.ofSeconds(30),
        System::nanoTime, ms -> {
          sleeps.add(ms);
          Thread.sleep(ms);
        });
    ManagedChannel ch = CoordinatorChannels.open("localhost:" + port, null);
    try (CoordinatorClient client = new CoordinatorClient(ch, ch, NettyCoordinator.TOKEN, backoff)) {
      CompletableFuture<CoordinatorClient.Joined> joined = CompletableFuture.supplyAsync(() -> client.join("early", "cpu", 1));
      while (sleeps.size() < 6) { // 50 + 100 + 200 + 400 + 400 ms waited, the sixth wait begun
        assertTrue(!joined.isDone(), "joined before any coordinator existed");
        Thread.sleep(10);
      }
      try (NettyCoordinator c = new NettyCoordinator(port, null, null)) {
        long up = System.nanoTime();
        CoordinatorClient.Joined r = joined.get(10, TimeUnit.SECONDS);
        long afterUpMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - up);
        assertTrue(r.workerId().startsWith("w0-early"), r.workerId());
        // Joined within about one capped delay of the coordinator coming up (not the channel's own back-off).
        assertTrue(afterUpMs < 3000, "joined " + afterUpMs + " ms after the coordinator came up");
      }
    }
    assertEquals(List.of(50L, 100L, 200L, 400L, 400L), sleeps.subList(0, 5));
    for (long s : sleeps) {
      assertTrue(s <= 400, sleeps.toString());
    }
  }

  @Test
  @Timeout(60)
  void workerCommandGivesUpAfterTheLimitWithOneLine() throws Exception {
    int port = freePort();
    StringWriter err = new StringWriter();
    CommandLine cl = OrthosliceCli.commandLine();
    cl.setErr(new PrintWriter(err, true));
    cl.setOut(new PrintWriter(new StringWriter(), true));
    long t0 = System.nanoTime();
    int status = cl.execute("worker", "--coordinator", "localhost:" + port, "--token", "t", "--give-up-after", "1",
        "--metrics-port", "-1");
    double seconds = (System.nanoTime() - t0) / 1e9;
    String text = err.toString().strip();
    assertEquals(1, status, text);
    assertTrue(text.startsWith("error: join: coordinator unreachable, gave up after 1.0 s (--give-up-after)"), text);
    assertEquals(1, text.lines().count(), text);
    assertTrue(seconds >= 1 && seconds < 20, "gave up after " + seconds + " s");
  }
}
