package io.orthoslice.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A worker outlives its coordinator: the coordinator goes away after its first round and another
 * one comes up on the same address; the worker, untouched, joins the new one and trains its run to
 * the end.
 */
class SelfHealTest {

  @Test
  @Timeout(120)
  void aWorkerJoinsARestartedCoordinatorByItself() throws Exception {
    int port = ReconnectTest.freePort();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    ManagedChannel ch = CoordinatorChannels.open("localhost:" + port, null);
    Worker worker = new Worker(new CoordinatorClient(ch, ch, NettyCoordinator.TOKEN, Duration.ofSeconds(60)), "phoenix",
        "cpu", true);
    try {
      Future<Worker.Summary> run;
      try (NettyCoordinator first = new NettyCoordinator(port, null, null, 3)) {
        run = pool.submit(() -> worker.run(r -> new WorkerRoundTest.PatternWindows(8)));
        while (first.core.record().rounds().isEmpty()) {
          assertTrue(!run.isDone(), "the worker stopped during the first coordinator's round");
          Thread.sleep(20);
        }
      } // the first coordinator is gone: the worker's calls fail UNAVAILABLE until the second is up
      Thread.sleep(500);
      try (NettyCoordinator second = new NettyCoordinator(port, null, null, 3)) {
        Worker.Summary s = run.get(90, TimeUnit.SECONDS);
        assertEquals(1, s.rejoins(), s.toString());
        assertTrue(s.workerId().startsWith("w0-phoenix"), s.workerId()); // the second coordinator's first member
        assertEquals(3, second.core.record().rounds().size(), "the second coordinator merged every round");
        assertTrue(second.core.record().failure().isEmpty(), second.core.record().failure().toString());
      }
    } finally {
      worker.close();
      pool.shutdownNow();
    }
  }
}
