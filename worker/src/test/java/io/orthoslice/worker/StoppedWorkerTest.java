package io.orthoslice.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.config.RunConfig;
import io.orthoslice.coordinator.RunSettings;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A worker stopped (SIGSTOP, a paused VM) while the run goes on without it: its round thread and its
 * heartbeats stand still, while what the coordinator sends it still arrives (the kernel buffers it for a
 * stopped process; here the transport's threads take it). When it resumes after the coordinator has
 * exited, it ends at once if the coordinator had said the run finished, and waits for a coordinator that
 * crashed, as it must (compose or launch restart that one with --resume).
 */
class StoppedWorkerTest {

  /** A worker whose round thread stops before it asks for round 2, and whose heartbeats stop with it. */
  private static final class Stoppable {
    final CountDownLatch stopped = new CountDownLatch(1);
    final CountDownLatch resumed = new CountDownLatch(1);

    RoundClient wrap(RoundClient c) {
      return (RoundClient) Proxy.newProxyInstance(RoundClient.class.getClassLoader(), new Class<?>[] {RoundClient.class},
          (proxy, method, args) -> {
            boolean paused = stopped.getCount() == 0 && resumed.getCount() > 0;
            if (method.getName().equals("heartbeat") && paused) {
              return null; // a stopped process sends nothing
            }
            if (method.getName().equals("awaitRound") && (long) args[2] >= 1 && stopped.getCount() > 0) {
              stopped.countDown();
              assertTrue(resumed.await(120, TimeUnit.SECONDS));
            }
            try {
              return method.invoke(c, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
    }
  }

  private static RunSettings settings() {
    // Heartbeat time-out 1 s: the stopped worker is dropped from round 2 and the other trains the rest alone.
    return new RunSettings(WorkerRoundTest.MODEL, RunConfig.DEFAULTS.with(Map.of("seq_len", 8, "batch_size", 2, "warmup", 1,
        "lr", 1e-2, "min_lr", 1e-3, "seed", 5, "rank", 4, "eval_batches", 1, "round_timeout", 120))
        .with(Map.of("rounds", 4, "workers", 2, "min_workers", 1, "local_steps", 2, "heartbeat_timeout", 1.0)), "pattern");
  }

  @Test
  void aWorkerStoppedPastTheEndOfItsRunEndsAtOnceWhenResumed() throws Exception {
    Stoppable w1 = new Stoppable();
    try (InProcessRun run = new InProcessRun(settings(), WorkerRoundTest.weights(WorkerRoundTest.MODEL))) {
      Future<Worker.Summary> w0 = run.workers(() -> new WorkerRoundTest.PatternWindows(8), "cpu").get(0);
      Future<Worker.Summary> stopped = run.worker(() -> new WorkerRoundTest.PatternWindows(8), "cpu", w1::wrap,
          Duration.ofSeconds(30));
      assertTrue(w1.stopped.await(60, TimeUnit.SECONDS));
      assertEquals(4, w0.get(120, TimeUnit.SECONDS).roundsTrained(), "the other worker trains every round");
      assertTrue(run.core.record().awaitEnd(Duration.ofSeconds(30)));
      assertTrue(run.core.record().failure().isEmpty());
      run.stopCoordinator(); // it has exited when the stopped worker resumes

      long t0 = System.nanoTime();
      w1.resumed.countDown();
      Worker.Summary s = stopped.get(20, TimeUnit.SECONDS);
      double seconds = (System.nanoTime() - t0) / 1e9;
      assertEquals(1, s.roundsTrained(), "it trained round 1, then stood still");
      // Without the coordinator's word it would retry for its 30 s give-up-after and then fail.
      assertTrue(seconds < 5, "the resumed worker took " + seconds + " s to end");
    }
  }

  @Test
  void aWorkerStoppedAcrossACoordinatorCrashIsNotToldTheRunFinished() throws Exception {
    Stoppable w1 = new Stoppable();
    try (InProcessRun run = new InProcessRun(settings(), WorkerRoundTest.weights(WorkerRoundTest.MODEL))) {
      run.workers(() -> new WorkerRoundTest.PatternWindows(8), "cpu");
      Future<Worker.Summary> stopped = run.worker(() -> new WorkerRoundTest.PatternWindows(8), "cpu", w1::wrap,
          Duration.ofSeconds(2));
      assertTrue(w1.stopped.await(60, TimeUnit.SECONDS));
      run.stopCoordinator(); // mid-run: a crash, not an end
      assertTrue(run.core.record().rounds().size() < 4, "the run ended before the crash");
      w1.resumed.countDown();
      ExecutionException e = assertThrows(ExecutionException.class, () -> stopped.get(30, TimeUnit.SECONDS));
      // It kept trying to rejoin for its give-up-after (2 s here, 120 s by default): a restarted coordinator
      // would have had it back.
      assertInstanceOf(CoordinatorUnreachableException.class, e.getCause(), e.getCause().toString());
    }
  }
}
