package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.WirePrecision;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A lossy-wire checkpoint keeps the broadcast's residuals beside the outer momentum, so a resume continues exactly. */
class RoundCheckpointsTest {

  private static RunSettings settings(WirePrecision wire) {
    LlamaConfig model = LlamaConfig.preset("tiny").withVocabSize(64);
    return new RunSettings(model, RunConfig.DEFAULTS.with(Map.of("seq_len", 8, "batch_size", 2, "warmup", 1,
        "lr", 1e-3, "min_lr", 1e-4, "seed", 7, "rank", 4, "local_steps", 2, "rounds", 2, "workers", 1))
        .with(Map.of("eval_batches", 1, "outer_lr", 0.7, "outer_momentum", 0.9, "wire", wire.label())), "test-data");
  }

  @Test
  void theMergerStateRoundTripsAndAnotherWireIsRefused(@TempDir Path dir) {
    RunSettings s = settings(WirePrecision.INT8);
    Random rng = new Random(1);
    Map<String, float[]> state = new LinkedHashMap<>();
    for (ParameterSpec p : s.model().parameters()) {
      float[] m = new float[(int) p.numel()];
      float[] e = new float[(int) p.numel()];
      for (int i = 0; i < m.length; i++) {
        m[i] = (float) rng.nextGaussian();
        e[i] = (float) (1e-4 * rng.nextGaussian());
      }
      state.put(p.name(), m);
      state.put(RoundMerger.BROADCAST_RESIDUAL + p.name(), e);
    }
    new RoundCheckpoints(dir, 3, s, 1, 2).save(new ResumeState(1, 8, WeightsSnapshot.initial(s.model(), 7),
        state, 3.0), null);

    ResumeState back = new RoundCheckpoints(dir, 3, s, 1, 2).latest().orElseThrow();
    assertEquals(state.keySet(), back.mergerState().keySet());
    state.forEach((k, v) -> assertArrayEquals(v, back.mergerState().get(k), k));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new RoundCheckpoints(dir, 3, settings(WirePrecision.F16), 1, 2).latest());
    assertTrue(e.getMessage().contains("wire int8, this run has f16"), e.getMessage());
  }
}
