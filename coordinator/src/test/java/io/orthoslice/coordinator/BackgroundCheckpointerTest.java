package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Checkpoints off the round's path: the save returns at once, the last one is written before the end, failures surface. */
class BackgroundCheckpointerTest {

  private static RoundResult round(long r) {
    return new RoundResult(r, 1, List.of(0), r + 1, 3.0, 3.0, 1, 2, 3, 0.1, 0.1, 0.1, 1.0, 2.0, 1, 10, 100);
  }

  private static ResumeState state(long next, float[] momentum) {
    return new ResumeState(next, 0, new WeightsSnapshot(next, Map.of("w", new float[] {1})), Map.of("w", momentum),
        Double.NaN);
  }

  @Test
  void aSaveReturnsBeforeItsWriteOneDueMeanwhileIsSkippedAndTheLastIsWrittenBeforeTheEnd() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    List<Float> written = new CopyOnWriteArrayList<>();
    List<String> threads = new CopyOnWriteArrayList<>();
    try (BackgroundCheckpointer c = new BackgroundCheckpointer((s, r) -> {
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      written.add(s.mergerState().get("w")[0]);
      threads.add(Thread.currentThread().getName());
    }, 3)) {
      c.save(state(1, new float[] {7}), round(0)); // returns while the write waits
      assertEquals(List.of(), written);
      c.save(state(2, new float[] {8}), round(1)); // the disk is busy: skipped, the round goes on
      assertEquals(1, c.skipped());
      release.countDown();
      c.save(state(3, new float[] {9}), round(2)); // the last round: after the one in flight, before save returns
      assertEquals(List.of(7f, 9f), written);
      assertEquals(List.of("checkpoint-writer", Thread.currentThread().getName()), threads);
    }
  }

  @Test
  void aFailedWriteFailsTheNextSaveWithItsOwnMessage() {
    UncheckedIOException disk = new UncheckedIOException("checkpoint after round 1: No space left on device",
        new java.io.IOException("No space left on device"));
    BackgroundCheckpointer c = new BackgroundCheckpointer((s, r) -> {
      if (s.nextRound() == 1) {
        throw disk;
      }
    }, 5);
    c.save(state(1, new float[] {0}), round(0));
    while (c.writing()) {
      Thread.onSpinWait();
    }
    assertSame(disk, assertThrows(UncheckedIOException.class, () -> c.save(state(2, new float[] {0}), round(1))));
    c.save(state(3, new float[] {0}), round(2)); // reported once: the writer goes on
    c.close();
  }
}
