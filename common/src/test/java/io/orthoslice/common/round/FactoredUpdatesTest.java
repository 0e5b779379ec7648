package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.RunConfig;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.wire.FactoredUpdate;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.RunDescription;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A worker's rebuild of a factored update, without a network: the coordinator's weights, bit for bit. */
class FactoredUpdatesTest {

  static final LlamaConfig SMALL = new LlamaConfig(12, 8, 16, 1, 2, 2, 16, 1e-6, 10000.0, false, 0.02);

  private static float[] random(Random rng, long n) {
    float[] v = new float[(int) n];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rng.nextGaussian();
    }
    return v;
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"orthogonal, sum", "same, mean", "independent, mean*2"})
  void theRebuiltWeightsAreTheCoordinatorsAndAChangedChecksumIsNoticed(String modeName, String ruleName) {
    RoundMode mode = RoundMode.parse(modeName);
    RunConfig config = RunConfig.DEFAULTS.with(Map.of("mode", modeName, "rank", 2, "local_steps", 5, "rounds", 2,
        "merge", ruleName, "slice_rounds", 3, "scale", 0.5));
    RoundRules rules = config.rules();
    RunDescription run = new RunDescription("r", SMALL, 1, 2, config, "d");
    Random rng = new Random(7);
    Map<String, float[]> before = new LinkedHashMap<>();
    for (ParameterSpec p : SMALL.parameters()) {
      before.put(p.name(), random(rng, p.numel()));
    }
    RoundPlan plan = RoundPlan.of(SMALL, mode, 42, rules.draw(4), 3, 2);
    Map<Integer, Map<String, float[]>> bySlot = new TreeMap<>();
    Map<String, float[]> wire = new LinkedHashMap<>();
    for (int slot : List.of(0, 2)) { // slot 1 missed the deadline
      Map<String, float[]> t = new HashMap<>();
      RoundMerge.expectedShapes(SMALL, mode, 2).forEach((name, shape) -> t.put(name,
          random(rng, java.util.Arrays.stream(shape).reduce(1, (x, y) -> x * y))));
      bySlot.put(slot, t);
    }
    // The coordinator's side: the merge, the plain step, the new dense values and the checksum.
    Map<String, float[]> d = HostMerge.deltas(plan, before, bySlot, run.config().scale(), rules.merge());
    OuterNesterov plain = new OuterNesterov(1.0, 0.0);
    Map<String, float[]> after = new LinkedHashMap<>();
    for (ParameterSpec p : SMALL.parameters()) {
      float[] next = plain.apply(p.name(), before.get(p.name()), d.get(p.name()));
      after.put(p.name(), next);
      if (p.role() == ParameterSpec.Role.PROJECTED) {
        bySlot.forEach((slot, t) -> wire.put(Protocol.slotFactorName(RoundMerge.factorName(p.name()), slot),
            t.get(RoundMerge.factorName(p.name()))));
      } else {
        wire.put(p.name(), next);
      }
    }
    FactoredUpdate u = new FactoredUpdate(4, 4, 5, 3, 42, plan.draw(), List.of(0, 2), wire,
        WeightsChecksum.of(SMALL, after));

    Map<String, float[]> rebuilt = FactoredUpdates.apply(run, before, u, null).orElseThrow();
    for (ParameterSpec p : SMALL.parameters()) {
      assertArrayEquals(after.get(p.name()), rebuilt.get(p.name()), 0f, p.name());
    }
    assertTrue(FactoredUpdates.apply(run, before, u, plan).isPresent(), "the trained plan is reused as is");
    FactoredUpdate altered = new FactoredUpdate(4, 4, 5, 3, 42, plan.draw(), List.of(0, 2), wire,
        u.weightsChecksum() ^ 1);
    assertTrue(FactoredUpdates.apply(run, before, altered, null).isEmpty());
    Map<String, float[]> lacking = new LinkedHashMap<>(wire);
    lacking.remove(wire.keySet().iterator().next());
    assertThrows(IllegalArgumentException.class, () -> FactoredUpdates.apply(run, before,
        new FactoredUpdate(4, 4, 5, 3, 42, plan.draw(), List.of(0, 2), lacking, u.weightsChecksum()), null));
  }
}
