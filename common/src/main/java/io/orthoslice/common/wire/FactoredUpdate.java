package io.orthoslice.common.wire;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The factored form of a merge: version {@code fromVersion} plus this is {@code toVersion}. Tensors are
 * {@code <param>#B@<slot>} for every merged slot's factor ({@link Protocol#slotFactorName}) and
 * {@code <param>} for the new value of each dense parameter; {@code weightsChecksum} is the
 * {@code WeightsChecksum} of {@code toVersion}'s weights.
 */
public record FactoredUpdate(long round, long fromVersion, long toVersion, int participants, long runSeed,
    long projectionDraw, List<Integer> mergedSlots, Map<String, float[]> tensors, int weightsChecksum) {

  public FactoredUpdate {
    mergedSlots = List.copyOf(mergedSlots);
    tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
  }

  /** Data bytes of the tensors. */
  public long bytes() {
    return tensors.values().stream().mapToLong(v -> (long) v.length * Float.BYTES).sum();
  }
}
