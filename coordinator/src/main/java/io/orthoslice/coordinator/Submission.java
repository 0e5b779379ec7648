package io.orthoslice.coordinator;

import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.wire.WireTensor;
import java.util.Map;

/** A worker's update for one round: its report's fields and the tensors by wire name. */
public record Submission(
    String workerId,
    String workerKey,
    long round,
    int slot,
    long weightsVersion,
    double meanLoss,
    long tokens,
    double stepSeconds,
    double fetchSeconds,
    double waitSeconds,
    double trainSeconds,
    Map<String, WireTensor> tensors) {

  public Submission(UpdateReport r, Map<String, WireTensor> tensors) {
    this(r.workerId(), r.workerKey(), r.round(), r.slot(), r.weightsVersion(), r.meanLoss(), r.tokens(), r.stepSeconds(),
        r.fetchSeconds(), r.waitSeconds(), r.trainSeconds(), tensors);
  }

  /** Data bytes of the tensors (what the upload cost, without framing). */
  public long bytes() {
    return tensors.values().stream().mapToLong(t -> t.data().length).sum();
  }
}
