package io.orthoslice.coordinator;

/** Mean validation loss (nats/token) of a version of the weights; perplexity is exp of it. */
@FunctionalInterface
public interface ValidationLoss {

  double of(WeightsSnapshot weights);

  /** For tests that do not look at quality: never evaluates. */
  ValidationLoss NONE = w -> Double.NaN;
}
