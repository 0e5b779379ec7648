package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.common.wire.WireDType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A sparse int8 update passes whole; tampered positions, scales or types are refused before any merge. */
class UpdateValidatorTest {

  private static final LlamaConfig MODEL = new LlamaConfig(32, 16, 32, 1, 2, 2, 16, 1e-6, 10000.0, false, 0.02);

  private static RunSettings settings(WirePrecision wire, double density) {
    return new RunSettings(MODEL, RunConfig.DEFAULTS.with(Map.of("seq_len", 8, "batch_size", 2, "warmup", 1,
        "lr", 1e-2, "min_lr", 1e-3, "seed", 5, "rank", 4, "local_steps", 2, "rounds", 2, "workers", 2))
        .with(Map.of("eval_batches", 1, "wire", wire.label(), "wire_density", density)), "d");
  }

  private static Map<String, WireTensor> update(RunSettings s, double density) {
    Random rng = new Random(1);
    Map<String, WireTensor> out = new LinkedHashMap<>();
    RoundMerge.expectedShapes(s.model(), s.mode(), s.rank()).forEach((name, shape) -> {
      float[] v = new float[(int) java.util.Arrays.stream(shape).reduce(1, Math::multiplyExact)];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (1e-2 * rng.nextGaussian());
      }
      TensorEncoding.encode(name, v, shape, WirePrecision.INT8, density).forEach(t -> out.put(t.name(), t));
    });
    return out;
  }

  private static Submission submission(Map<String, WireTensor> t) {
    return new Submission(new UpdateReport("w", "k", 0, 0, 0, 2.0, 16, 0.1, 0, 0, 0.2), t);
  }

  @Test
  void aWellFormedSparseInt8UpdatePassesAndItsSizeIsTheLimit() {
    RunSettings s = settings(WirePrecision.INT8, 0.1);
    List<String> refusals = new ArrayList<>();
    UpdateValidator v = new UpdateValidator(s, refusals::add);
    Map<String, WireTensor> t = update(s, 0.1);
    v.check(submission(t));
    assertEquals(v.maxBytes(), t.values().stream().mapToLong(x -> x.data().length).sum());
    assertTrue(refusals.isEmpty());
  }

  @Test
  void tamperedPositionsScalesOrTypesAreRefusedByName() {
    RunSettings s = settings(WirePrecision.INT8, 0.1);
    List<String> refusals = new ArrayList<>();
    UpdateValidator v = new UpdateValidator(s, refusals::add);
    String name = MODEL.parameters().get(0).name(); // the embedding, dense
    Map<String, WireTensor> t = update(s, 0.1);
    WireTensor idx = t.get(name + "#idx");
    ByteBuffer b = ByteBuffer.wrap(idx.data().clone()).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(4, b.getInt(0)); // the second position repeats the first
    t.put(idx.name(), new WireTensor(idx.name(), WireDType.I32, idx.shape(), b.array()));
    CoordinatorException e = assertThrows(CoordinatorException.class, () -> v.check(submission(t)));
    assertEquals(CoordinatorException.Code.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().contains(name + "#idx holds position") && e.getMessage().contains("increase strictly"),
        e.getMessage());
    assertEquals(List.of("bad_positions"), refusals);

    Map<String, WireTensor> big = update(s, 0.1);
    big.put(name + "#scale", WireTensor.ofFloats(name + "#scale", new float[] {1e3f}, 1)); // 127e3 > 1e4
    assertTrue(assertThrows(CoordinatorException.class, () -> v.check(submission(big))).getMessage()
        .contains("must lie within +-10000.0"));

    Map<String, WireTensor> dense = update(s, 1.0); // an update of another density
    assertTrue(assertThrows(CoordinatorException.class, () -> v.check(submission(dense))).getMessage()
        .contains("has shape"));
  }
}
