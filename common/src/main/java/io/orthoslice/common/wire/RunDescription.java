package io.orthoslice.common.wire;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.TrainConfig;

/**
 * Everything a worker needs to train exactly as the coordinator intends (the wire's RunSpec, parsed
 * once on arrival).
 *
 * @param train the workers' training configuration (its steps span the whole run: rounds x H)
 * @param bosId, eosId the tokenizer's special ids, carried in the model's Hugging Face config
 */
public record RunDescription(String runId, LlamaConfig model, int bosId, int eosId, TrainConfig train, RoundMode mode,
    int rank, int localSteps, int totalRounds, String datasetId, RoundRules rules) {

  public RunDescription {
    if (model == null || train == null || mode == null || rules == null || datasetId == null) {
      throw new IllegalArgumentException("a run description needs its model, training, mode, rules and dataset");
    }
  }

  /**
   * Whether {@code o} describes the same training as this (everything but the run id, which a
   * coordinator restarted with --resume draws anew).
   */
  public boolean sameTrainingAs(RunDescription o) {
    return equals(new RunDescription(runId, o.model, o.bosId, o.eosId, o.train, o.mode, o.rank, o.localSteps,
        o.totalRounds, o.datasetId, o.rules));
  }

  /** The seed every random draw of the run derives from. */
  public long runSeed() {
    return train.seed();
  }

  /** The adapter scale alpha. */
  public double alpha() {
    return train.method().scale();
  }
}
