package io.orthoslice.worker;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.coordinator.Coordinator;
import io.orthoslice.coordinator.CoordinatorMain;
import io.orthoslice.coordinator.CoordinatorServer;
import io.orthoslice.coordinator.CoordinatorService;
import io.orthoslice.coordinator.ResumeState;
import io.orthoslice.coordinator.RunSettings;
import io.orthoslice.coordinator.ValidationLoss;
import java.nio.file.Path;
import java.time.Duration;

/** A real coordinator on Netty (loopback, plaintext or TLS as the flags make it) for tiny rounds of one worker. */
final class NettyCoordinator implements AutoCloseable {

  static final String TOKEN = "tok";

  final Coordinator core;
  final CoordinatorServer server;

  NettyCoordinator(int port, Path tlsCert, Path tlsKey) throws Exception {
    this(port, tlsCert, tlsKey, 1);
  }

  NettyCoordinator(int port, Path tlsCert, Path tlsKey, int rounds) throws Exception {
    TrainConfig train = new TrainConfig(8, 2, 1, 2L * rounds, 1, 1e-2, 1e-3, 0.9, 0.95, 1e-8, 0.0, 1.0, 5,
        Precision.FP32, RunSettings.workerMethod(RoundMode.ORTHOGONAL, 4, 1.0));
    RunSettings s = new RunSettings(WorkerRoundTest.MODEL, train, RoundMode.ORTHOGONAL, 4, 2, rounds, 1, 1,
        Duration.ofSeconds(120), Duration.ofSeconds(60), "pattern", 1.0, 0.0, 0, 1);
    core = new Coordinator(s, ResumeState.fresh(WorkerRoundTest.weights(WorkerRoundTest.MODEL)), ValidationLoss.NONE,
        r -> {}, (st, r) -> {});
    try {
      server = new CoordinatorServer(CoordinatorMain.serverBuilder(port, tlsCert, tlsKey),
          new CoordinatorService(core, CoordinatorService.runSpec(s, "run", 1, 2), Duration.ofSeconds(5)), TOKEN);
    } catch (Exception e) {
      core.close();
      throw e;
    }
    core.start();
  }

  int port() {
    return server.port();
  }

  @Override
  public void close() {
    server.close();
    core.close();
  }
}
