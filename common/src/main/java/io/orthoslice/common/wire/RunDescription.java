package io.orthoslice.common.wire;

import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;

/**
 * Everything a worker needs to train exactly as the coordinator intends (the wire's RunSpec, parsed
 * once on arrival): the run's settings, from which the worker derives its training and round rules
 * as the coordinator does.
 *
 * @param bosId, eosId the tokenizer's special ids, carried in the model's Hugging Face config
 */
public record RunDescription(String runId, LlamaConfig model, int bosId, int eosId, RunConfig config,
    String datasetId) {

  public RunDescription {
    if (model == null || config == null || datasetId == null) {
      throw new IllegalArgumentException("a run description needs its model, configuration and dataset");
    }
  }

  /**
   * Whether {@code o} describes the same training as this: the model, the dataset and every setting
   * the trajectory depends on ({@link RunConfig#trajectory}); not the run id, which a coordinator
   * restarted with --resume draws anew, nor the operational settings a resume may change.
   */
  public boolean sameTrainingAs(RunDescription o) {
    return model.equals(o.model) && bosId == o.bosId && eosId == o.eosId && datasetId.equals(o.datasetId)
        && config.trajectory().equals(o.config.trajectory());
  }
}
