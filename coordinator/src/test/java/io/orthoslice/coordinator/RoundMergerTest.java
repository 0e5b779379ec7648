package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.djl.Device;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.round.WeightsChecksum;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The merge on the coordinator's device: every merged version is what a worker rebuilds from the
 * round's update, a version's snapshot still reads its own values after later merges changed the
 * device weights, and a merger restored from its state (a resumed coordinator) merges the next round
 * bit for bit as the one that ran on.
 */
class RoundMergerTest {

  private static final LlamaConfig MODEL = LlamaConfig.preset("tiny").withVocabSize(64);

  private static RunSettings settings(String wire, double outerLr, double outerMomentum) {
    return new RunSettings(MODEL, RunConfig.DEFAULTS.with(Map.of("seed", 5, "rank", 4, "workers", 2, "wire", wire,
        "outer_lr", outerLr, "outer_momentum", outerMomentum)), "synthetic");
  }

  @ParameterizedTest(name = "wire {0}, outer lr {1}, momentum {2}")
  @CsvSource({"f32, 1.0, 0.0", "f16, 1.0, 0.0", "int8, 1.0, 0.0", "int8, 0.7, 0.9", "f32, 0.7, 0.9"})
  void versionsReadTheirOwnValuesAndAResumedMergerContinuesExactly(String wire, double outerLr, double momentum) {
    RunSettings s = settings(wire, outerLr, momentum);
    WeightsSnapshot start = WeightsSnapshot.initial(MODEL, 5);
    RoundPlan plan = RoundPlan.of(MODEL, s.mode(), 5, 0, 2, 4);
    RoundEvaluation evaluation = new RoundEvaluation(s, ValidationLoss.NONE);
    Broadcasts broadcasts = new Broadcasts(s, start);
    WeightsSnapshot[] versions = new WeightsSnapshot[4];
    long[] checksums = new long[4];
    try (RoundMerger merger = new RoundMerger(s, Map.of(), Device.cpu())) {
      for (int r = 0; r < 4; r++) {
        List<Submission> subs = MergeBenchmark.syntheticUpdates(MODEL, s.config(), start, 100 + r);
        RoundMerger.Outcome o = merger.close(new OpenRound(r, plan, List.of("w0", "w1"), 0), subs, broadcasts,
            evaluation);
        assertEquals(r + 1, o.after().version());
        // What a worker holding the last version rebuilds from the update alone.
        Map<String, float[]> rebuilt = io.orthoslice.common.round.DeltaBroadcast.rebuild(MODEL,
            broadcasts.current().values(), o.delta()).orElseThrow();
        assertEquals(o.delta().weightsChecksum(), WeightsChecksum.of(MODEL, rebuilt));
        broadcasts.publish(o.after(), o.delta());
        versions[r] = o.after();
        checksums[r] = o.delta().weightsChecksum();
      }
    }
    // Versions 1 and 2 were never read before later merges changed the device weights.
    for (int r = 0; r < 4; r++) {
      assertEquals(checksums[r], WeightsChecksum.of(MODEL, versions[r].values()), "version " + (r + 1));
    }
    assertNotEquals(checksums[2], checksums[3]);
  }

  @ParameterizedTest(name = "wire {0}, outer lr {1}, momentum {2}")
  @CsvSource({"int8, 0.7, 0.9", "f16, 1.0, 0.0"})
  void aMergerRestoredFromItsStateMergesAsTheOneThatRanOn(String wire, double outerLr, double momentum) {
    RunSettings s = settings(wire, outerLr, momentum);
    WeightsSnapshot start = WeightsSnapshot.initial(MODEL, 5);
    RoundPlan plan = RoundPlan.of(MODEL, s.mode(), 5, 0, 2, 4);
    RoundEvaluation evaluation = new RoundEvaluation(s, ValidationLoss.NONE);
    List<Submission> first = MergeBenchmark.syntheticUpdates(MODEL, s.config(), start, 200);
    List<Submission> second = MergeBenchmark.syntheticUpdates(MODEL, s.config(), start, 201);
    Broadcasts on = new Broadcasts(s, start);
    long continued;
    WeightsSnapshot afterFirst;
    Map<String, float[]> state;
    try (RoundMerger merger = new RoundMerger(s, Map.of(), Device.cpu())) {
      RoundMerger.Outcome o = merger.close(new OpenRound(0, plan, List.of("w0", "w1"), 0), first, on, evaluation);
      on.publish(o.after(), o.delta());
      afterFirst = o.after();
      state = merger.state();
      continued = merger.close(new OpenRound(1, plan, List.of("w0", "w1"), 0), second, on, evaluation).delta()
          .weightsChecksum();
    }
    assertEquals(wire.equals("f32") ? 0 : MODEL.parameters().size(), state.keySet().stream()
        .filter(k -> k.startsWith(RoundMerger.BROADCAST_RESIDUAL)).count());
    // A resumed coordinator: the checkpoint's weights and buffers, a new merger on them.
    Broadcasts resumed = new Broadcasts(s, new WeightsSnapshot(afterFirst.version(), afterFirst.values()));
    try (RoundMerger merger = new RoundMerger(s, state, Device.cpu())) {
      long again = merger.close(new OpenRound(1, plan, List.of("w0", "w1"), 0), second, resumed, evaluation).delta()
          .weightsChecksum();
      assertEquals(continued, again);
    }
  }

  @org.junit.jupiter.api.Test
  void aMergeToANonFiniteValueIsRefusedAndTheWeightsBeforeItStay() {
    RunSettings s = settings("f32", 1.0, 0.0);
    WeightsSnapshot start = WeightsSnapshot.initial(MODEL, 5);
    RoundPlan plan = RoundPlan.of(MODEL, s.mode(), 5, 0, 2, 4);
    List<Submission> subs = new java.util.ArrayList<>(MergeBenchmark.syntheticUpdates(MODEL, s.config(), start, 300));
    String dense = "model.norm.weight";
    Submission first = subs.get(0);
    Map<String, io.orthoslice.common.wire.WireTensor> tensors = new java.util.LinkedHashMap<>(first.tensors());
    float[] huge = new float[Math.toIntExact(tensors.get(dense).elementCount())];
    java.util.Arrays.fill(huge, 3e38f);
    tensors.put(dense, io.orthoslice.common.wire.WireTensor.ofFloats(dense, huge, tensors.get(dense).shape()));
    subs.set(0, new Submission(first.report(), tensors));
    subs.set(1, new Submission(subs.get(1).report(), tensors));
    Broadcasts broadcasts = new Broadcasts(s, start);
    long before = WeightsChecksum.of(MODEL, start.values());
    try (RoundMerger merger = new RoundMerger(s, Map.of(), Device.cpu())) {
      IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
          () -> merger.close(new OpenRound(0, plan, List.of("w0", "w1"), 0), subs, broadcasts,
              new RoundEvaluation(s, ValidationLoss.NONE)));
      org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("round 1 merged to a non-finite value in "
          + dense), e.getMessage());
      // The next merge starts again from the published weights, not from the half-merged device copy.
      RoundMerger.Outcome o = merger.close(new OpenRound(0, plan, List.of("w0", "w1"), 0),
          MergeBenchmark.syntheticUpdates(MODEL, s.config(), start, 301), broadcasts,
          new RoundEvaluation(s, ValidationLoss.NONE));
      assertEquals(o.delta().weightsChecksum(), WeightsChecksum.of(MODEL, io.orthoslice.common.round.DeltaBroadcast
          .rebuild(MODEL, start.values(), o.delta()).orElseThrow()));
    }
    assertEquals(before, WeightsChecksum.of(MODEL, start.values()));
  }

  /**
   * The validation pass reads the version the device holds in place, to the same loss as from its
   * host copy; a merge waits for such a read before it changes the weights; an older version is then
   * validated from its host copy, to the same loss.
   */
  @org.junit.jupiter.api.Test
  void validationReadsTheHeldVersionInPlaceAndTheNextMergeWaitsForIt() throws Exception {
    RunSettings s = settings("int8", 1.0, 0.0);
    WeightsSnapshot start = WeightsSnapshot.initial(MODEL, 5);
    RoundPlan plan = RoundPlan.of(MODEL, s.mode(), 5, 0, 2, 4);
    RoundEvaluation evaluation = new RoundEvaluation(s, ValidationLoss.NONE);
    java.util.Random rng = new java.util.Random(9);
    List<long[]> batches = new java.util.ArrayList<>();
    for (int b = 0; b < 3; b++) {
      batches.add(rng.longs(2 * 9, 0, MODEL.vocabSize()).toArray()); // 2 windows of 8 + 1 tokens
    }
    DatasetValidation validation = new DatasetValidation(MODEL, batches, 2);
    Broadcasts broadcasts = new Broadcasts(s, start);
    try (RoundMerger merger = new RoundMerger(s, Map.of(), Device.cpu())) {
      RoundMerger.Outcome first = merger.close(new OpenRound(0, plan, List.of("w0", "w1"), 0),
          MergeBenchmark.syntheticUpdates(MODEL, s.config(), start, 400), broadcasts, evaluation);
      broadcasts.publish(first.after(), first.delta());
      WeightsSnapshot v1 = first.after();
      org.junit.jupiter.api.Assertions.assertTrue(v1.onDevice(w -> true).orElse(false), "held on the device");
      double inPlace = validation.of(v1);
      double fromHost = validation.of(new WeightsSnapshot(v1.version(), v1.values()));
      assertEquals(fromHost, inPlace);
      org.junit.jupiter.api.Assertions.assertTrue(Double.isFinite(inPlace));

      // A reader of version 1 in place holds the next merge off until it is done.
      java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.CompletableFuture<Long> read = java.util.concurrent.CompletableFuture.supplyAsync(
          () -> v1.onDevice(w -> {
            reading.countDown();
            try {
              Thread.sleep(300); // the merge below starts meanwhile and must wait
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return WeightsChecksum.ofArrays(MODEL, w);
          }).orElseThrow());
      reading.await();
      RoundMerger.Outcome second = merger.close(new OpenRound(1, plan, List.of("w0", "w1"), 0),
          MergeBenchmark.syntheticUpdates(MODEL, s.config(), start, 401), broadcasts, evaluation);
      assertEquals(first.delta().weightsChecksum(), read.get(), "the reader saw version 1 whole");
      broadcasts.publish(second.after(), second.delta());
      org.junit.jupiter.api.Assertions.assertTrue(v1.onDevice(w -> true).isEmpty(), "version 1 is no longer held");
      assertEquals(inPlace, validation.of(v1), "version 1 from its host copy");
      assertNotEquals(inPlace, validation.of(second.after()));
    }
  }
}
