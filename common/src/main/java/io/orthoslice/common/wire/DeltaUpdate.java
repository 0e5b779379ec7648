package io.orthoslice.common.wire;

import io.orthoslice.common.config.WirePrecision;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A round's broadcast in the run's {@link WirePrecision}: version {@code fromVersion} plus the decoded
 * tensors is {@code toVersion}. Tensors are {@code <param>} (the change of every parameter, encoded;
 * INT8 ones with their {@code <param>#scale}); {@code weightsChecksum} is the {@code WeightsChecksum}
 * of {@code toVersion}'s weights.
 */
public record DeltaUpdate(long round, long fromVersion, long toVersion, Map<String, WireTensor> tensors,
    long weightsChecksum) {

  public DeltaUpdate {
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
  }

  /** Data bytes of the tensors, scales included. */
  public long bytes() {
    return tensors.values().stream().mapToLong(t -> t.data().length).sum();
  }
}
