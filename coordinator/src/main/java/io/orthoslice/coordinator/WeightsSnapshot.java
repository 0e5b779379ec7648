package io.orthoslice.coordinator;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shared weights of one version, host float32 by parameter name. Never modified after it is
 * made, so any number of FetchWeights streams read it without a lock while the next merge builds
 * the next snapshot.
 */
public record WeightsSnapshot(long version, Map<String, float[]> values) {

  public WeightsSnapshot {
    values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
  }

  public long bytes() {
    return values.values().stream().mapToLong(v -> (long) v.length * Float.BYTES).sum();
  }
}
