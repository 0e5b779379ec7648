package io.orthoslice.coordinator;

import io.orthoslice.common.train.ModelInit;

import io.orthoslice.common.model.LlamaConfig;

import ai.djl.ndarray.types.DataType;

import ai.djl.ndarray.NDManager;

import ai.djl.ndarray.NDArray;

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

  /** The run's initial weights (ModelInit, float32) as version 0. */
  public static WeightsSnapshot initial(LlamaConfig model, long seed) {
    try (NDManager m = NDManager.newBaseManager()) {
      LinkedHashMap<String, float[]> w = new LinkedHashMap<>();
      for (Map.Entry<String, NDArray> e : ModelInit.initialize(model, seed, m, DataType.FLOAT32).entrySet()) {
        w.put(e.getKey(), e.getValue().toFloatArray());
      }
      return new WeightsSnapshot(0, w);
    }
  }
}
