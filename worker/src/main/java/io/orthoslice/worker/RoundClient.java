package io.orthoslice.worker;

import io.orthoslice.common.wire.Assignment;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.RunDescription;
import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.wire.WireTensor;
import java.util.Map;
import java.util.Optional;

/**
 * The coordinator as a worker's round loop sees it, in the worker's own terms: its calls return
 * records, and what can go wrong is one of a few exceptions that say what the worker should do
 * ({@link CoordinatorLostException}: join again; {@link StaleRoundException}: ask for the current
 * round; {@link LateUpdateException}: the round merged without this update; {@link
 * CoordinatorRefusedException}: stop). {@link CoordinatorClient} is the gRPC implementation; the
 * worker never sees a status code.
 */
public interface RoundClient extends AutoCloseable {

  /** What Join returns: this worker's id and key (which every later call carries) and the run, parsed once. */
  record Joined(String workerId, String workerKey, RunDescription run, long weightsVersion,
      int heartbeatIntervalMs) {}

  /** The round update from a version, with the data bytes it carried. */
  record Fetched(DeltaUpdate delta, long bytes) {}

  Joined join(String name, String device, long memoryBytes);

  /** Waits until a round for this worker opens or the run ends. */
  Assignment awaitRound(String workerId, String workerKey, long nextRound);

  Map<String, WireTensor> fetchWeights(String workerId, long version);

  /** The update that brings {@code fromVersion} one version on; empty when the coordinator has none for it. */
  Optional<Fetched> fetchRoundUpdate(String workerId, long fromVersion);

  /**
   * Sends an update; returns the bytes of tensor data sent.
   *
   * @throws LateUpdateException when its round merged without it
   */
  long submit(UpdateReport report, Iterable<WireTensor> tensors);

  /**
   * Opens the presence stream of this membership; the returned action closes it. {@code onRunFinished} runs
   * (on a transport thread) when the coordinator says on it that the run finished; from then on a lost
   * connection is not retried but ends the call with {@link RunFinishedException}.
   */
  Runnable presence(String workerId, String workerKey, Runnable onRunFinished);

  void heartbeat(String workerId, String workerKey);

  void leave(String workerId, String workerKey, String reason);

  @Override
  void close();
}
