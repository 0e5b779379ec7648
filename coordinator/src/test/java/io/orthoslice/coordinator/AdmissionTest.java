package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.wire.Assignment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Admission control: a flood of Joins admits --workers + --spare-workers members and refuses the rest
 * with RESOURCE_EXHAUSTED naming the limit; the first round's slots are the first --workers members,
 * whatever the flood did.
 */
class AdmissionTest {

  private static final LlamaConfig MODEL = new LlamaConfig(32, 16, 32, 1, 2, 2, 16, 1e-6, 10000.0, false, 0.02);

  @Test
  void aJoinFloodAdmitsTheWorkersAndTheirSparesAndChangesNoSlot() throws Exception {
    RunSettings s = new RunSettings(MODEL, RunConfig.DEFAULTS.with(Map.of("seq_len", 8, "batch_size", 2, "rank", 4,
        "local_steps", 2, "rounds", 2, "workers", 2, "spare_workers", 1, "eval_batches", 1)), "d");
    try (Coordinator core = new Coordinator(s, ResumeState.fresh(WeightsSnapshot.initial(MODEL, 7)),
        ValidationLoss.NONE, r -> { }, (st, r) -> { }, CoordinatorMetrics.unregistered())) {
      JoinedWorker first = core.join("first");
      JoinedWorker second = core.join("second");
      core.start();
      ConcurrentLinkedQueue<JoinedWorker> admitted = new ConcurrentLinkedQueue<>();
      ConcurrentLinkedQueue<CoordinatorException> refused = new ConcurrentLinkedQueue<>();
      ExecutorService pool = Executors.newFixedThreadPool(16);
      CountDownLatch go = new CountDownLatch(1);
      for (int i = 0; i < 300; i++) {
        pool.execute(() -> {
          try {
            go.await();
            admitted.add(core.join("flood"));
          } catch (CoordinatorException e) {
            refused.add(e);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
      }
      long t0 = System.nanoTime();
      go.countDown();
      pool.shutdown();
      assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
      System.out.printf("300 concurrent Joins (16 threads) answered in %.1f ms%n", (System.nanoTime() - t0) / 1e6);
      assertEquals(1, admitted.size(), "one spare member");
      assertEquals(299, refused.size());
      for (CoordinatorException e : refused) {
        assertEquals(CoordinatorException.Code.RESOURCE_EXHAUSTED, e.code());
        assertEquals("the run admits at most 3 members (--workers 2 + --spare-workers 1), and 3 are live; join"
            + " again when one has left", e.getMessage());
      }
      List<Assignment> round = new ArrayList<>();
      for (JoinedWorker w : List.of(first, second)) {
        round.add(core.awaitRound(w.workerId(), w.workerKey(), 0).get(30, TimeUnit.SECONDS));
      }
      assertEquals(List.of(2, 2), round.stream().map(Assignment::participants).toList());
      assertEquals(List.of(0, 1), round.stream().map(Assignment::slot).toList());
    }
  }
}
