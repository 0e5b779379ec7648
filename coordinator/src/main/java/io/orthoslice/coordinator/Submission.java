package io.orthoslice.coordinator;

import io.orthoslice.common.wire.WireTensor;
import java.util.Map;

/** A worker's update for one round: header fields, statistics and the tensors by wire name. */
public record Submission(
    String workerId,
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

  /** Data bytes of the tensors (what the upload cost, without framing). */
  public long bytes() {
    return tensors.values().stream().mapToLong(t -> t.data().length).sum();
  }
}
