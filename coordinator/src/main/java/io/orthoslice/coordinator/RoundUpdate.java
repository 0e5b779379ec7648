package io.orthoslice.coordinator;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The factored form of the last merge: version {@code fromVersion} plus this is {@code toVersion}.
 * Tensors are {@code <param>#A@<slot>} for every merged slot's factor and {@code <param>} for the
 * new value of each dense parameter; {@code weightsChecksum} is the {@code WeightsChecksum} of
 * {@code toVersion}'s weights.
 */
public record RoundUpdate(long round, long fromVersion, long toVersion, int participants, long roundSeed,
    List<Integer> mergedSlots, Map<String, float[]> tensors, int weightsChecksum, long projectionDraw) {

  public RoundUpdate {
    mergedSlots = List.copyOf(mergedSlots);
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
  }

  public static String slotFactorName(String factorName, int slot) {
    return io.orthoslice.common.wire.Protocol.slotFactorName(factorName, slot);
  }

  public long bytes() {
    return tensors.values().stream().mapToLong(v -> (long) v.length * Float.BYTES).sum();
  }
}
