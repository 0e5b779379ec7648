package io.orthoslice.coordinator;

import java.util.Map;

/** Mean validation loss (nats/token) of a set of weights; perplexity is exp of it. */
@FunctionalInterface
public interface ValidationLoss {

  double of(Map<String, float[]> weights);

  /** For tests that do not look at quality: never evaluates. */
  ValidationLoss NONE = w -> Double.NaN;
}
