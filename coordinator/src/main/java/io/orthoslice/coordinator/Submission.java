package io.orthoslice.coordinator;

import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.wire.WireTensor;
import java.util.Map;

/** A worker's update for one round: its report (who, which round and slot, its timings) and the tensors by wire name. */
public record Submission(UpdateReport report, Map<String, WireTensor> tensors) {

  public String workerId() {
    return report.workerId();
  }

  public String workerKey() {
    return report.workerKey();
  }

  public long round() {
    return report.round();
  }

  public int slot() {
    return report.slot();
  }

  public long weightsVersion() {
    return report.weightsVersion();
  }

  public double meanLoss() {
    return report.meanLoss();
  }

  public long tokens() {
    return report.tokens();
  }

  /** Data bytes of the tensors (what the upload cost, without framing). */
  public long bytes() {
    return tensors.values().stream().mapToLong(t -> t.data().length).sum();
  }
}
