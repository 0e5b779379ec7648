package io.orthoslice.coordinator;

/** Mean validation loss (nats/token) of a version of the weights; perplexity is exp of it. */
@FunctionalInterface
public interface ValidationLoss {

  double of(WeightsSnapshot weights);

  /**
   * Takes now what a validation pass of {@code weights} needs of their device arrays (a copy there,
   * in the compute type), so the pass itself can run later, after the next merge has changed them.
   * By default nothing is taken: the pass reads {@code weights} when it runs.
   */
  default Pass prepare(WeightsSnapshot weights) {
    return () -> of(weights);
  }

  /** A prepared validation pass: run it once, then close it (frees what {@link #prepare} took). */
  interface Pass extends AutoCloseable {

    double loss();

    @Override
    default void close() {}
  }

  /** For tests that do not look at quality: never evaluates. */
  ValidationLoss NONE = w -> Double.NaN;
}
