package io.orthoslice.common.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.WireTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A worker's replica against the coordinator's broadcast, round after round, on every wire: the
 * replica decodes each change where it lives (f32, f16 and int8 on the device; a sparse change on
 * the host) and must hold the coordinator's published bits every round; a broadcast whose checksum
 * does not match leaves it holding nothing, so its worker fetches the weights.
 */
class ReplicaWeightsTest {

  @ParameterizedTest(name = "{0} density {1}")
  @CsvSource({"f32, 1.0", "f16, 1.0", "int8, 1.0", "int8, 0.5"})
  void theReplicaHoldsTheCoordinatorsBitsEveryRound(String wireName, double density) {
    LlamaConfig model = WeightsChecksumTest.SMALL;
    WirePrecision wire = WirePrecision.parse(wireName);
    Map<String, float[]> coordinator = WeightsChecksumTest.random(model, 11);
    DeltaBroadcast broadcast = new DeltaBroadcast(model, wire, density);
    Random rng = new Random(12);
    try (ReplicaWeights replica = new ReplicaWeights(model, Device.cpu())) {
      Map<String, WireTensor> start = new LinkedHashMap<>();
      for (ParameterSpec p : model.parameters()) {
        start.put(p.name(), WireTensor.ofFloats(p.name(), coordinator.get(p.name()), p.shape()));
      }
      replica.load(0, start);
      for (int round = 0; round < 10; round++) {
        Map<String, float[]> merged = new LinkedHashMap<>();
        for (ParameterSpec p : model.parameters()) {
          float[] to = coordinator.get(p.name()).clone();
          for (int i = 0; i < to.length; i++) {
            to[i] += (float) (1e-2 * rng.nextGaussian());
          }
          merged.put(p.name(), to);
        }
        DeltaBroadcast.Encoded e = broadcast.encode(coordinator, merged);
        long checksum = WeightsChecksum.of(model, e.published());
        assertTrue(replica.apply(new DeltaUpdate(round, round, round + 1, e.tensors(), checksum)), "round " + round);
        assertEquals(round + 1, replica.version());
        assertEquals(checksum, replica.checksum());
        coordinator = e.published();
      }
      DeltaBroadcast.Encoded e = broadcast.encode(coordinator, coordinator);
      assertFalse(replica.apply(new DeltaUpdate(10, 10, 11, e.tensors(), WeightsChecksum.of(model, e.published()) ^ 1)));
      assertEquals(-1, replica.version());
    }
  }
}
