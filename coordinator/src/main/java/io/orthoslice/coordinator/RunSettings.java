package io.orthoslice.coordinator;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.round.RoundPlan;
import java.time.Duration;

/**
 * One distributed run as the coordinator runs it: the run's settings ({@link RunConfig}, the one
 * place they are declared), the model they name with the dataset's vocabulary, and the dataset's
 * identity. The accessors below derive what the coordinator's parts read; none holds a value of its
 * own.
 */
public record RunSettings(LlamaConfig model, RunConfig config, String datasetId) {

  public RunSettings {
    if (model == null || config == null || datasetId == null) {
      throw new IllegalArgumentException("a run needs its model, configuration and dataset id");
    }
    // The K r <= d check with the expected worker count, at start, with a message naming d.
    RoundPlan.requireFeasible(model, config.roundMode(), config.workers(), config.rank());
  }

  /**
   * The workers' training configuration; {@code steps} is rounds x localSteps (the learning-rate
   * schedule spans the whole run) and its method is ADAPTER (projected modes) or FULL (mode full),
   * never merging within a round.
   */
  public TrainConfig train() {
    return config.trainConfig();
  }

  public RoundMode mode() {
    return config.roundMode();
  }

  public int rank() {
    return config.rank();
  }

  public int localSteps() {
    return config.localSteps();
  }

  public int rounds() {
    return config.rounds();
  }

  /** The first round opens when this many have joined. */
  public int expectedWorkers() {
    return config.workers();
  }

  /** Later rounds open only with at least this many live workers. */
  public int minWorkers() {
    return config.minLiveWorkers();
  }

  public Duration roundTimeout() {
    return Duration.ofMillis(Math.round(config.roundTimeout() * 1000));
  }

  public Duration heartbeatTimeout() {
    return Duration.ofMillis(Math.round(config.heartbeatTimeout() * 1000));
  }

  public double outerLr() {
    return config.outerLr();
  }

  public double outerMomentum() {
    return config.outerMomentum();
  }

  public int checkpointEvery() {
    return config.checkpointEvery();
  }

  public int evalBatches() {
    return config.evalBatches();
  }

  public int evalEvery() {
    return config.evalEvery();
  }

  public RoundRules rules() {
    return config.rules();
  }

  /** What an update may hold beside its shapes (finite, bounded, no outlier). */
  public UpdateLimits limits() {
    return new UpdateLimits(config.maxUpdateValue(), config.updateOutlierFactor());
  }

  public long windowsPerStep() {
    return (long) config.batchSize();
  }

  /** The adapter scale alpha. */
  public double alpha() {
    return config.scale();
  }
}
