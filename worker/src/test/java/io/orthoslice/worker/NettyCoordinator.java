package io.orthoslice.worker;

import io.orthoslice.common.config.RunConfig;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.coordinator.Coordinator;
import io.orthoslice.coordinator.cli.CoordinatorMain;
import io.orthoslice.coordinator.grpc.CoordinatorServer;
import io.orthoslice.coordinator.grpc.CoordinatorService;
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
    RunSettings s = new RunSettings(WorkerRoundTest.MODEL, RunConfig.DEFAULTS.with(java.util.Map.of("seq_len", 8, "batch_size", 2, "warmup", 1,
        "lr", 1e-2, "min_lr", 1e-3, "seed", 5, "rank", 4, "local_steps", 2, "rounds", rounds, "workers", 1))
        .with(java.util.Map.of("eval_batches", 1, "round_timeout", 120, "heartbeat_timeout", 60)), "pattern");
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
