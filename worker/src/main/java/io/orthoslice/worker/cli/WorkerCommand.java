package io.orthoslice.worker.cli;

import io.grpc.ManagedChannel;
import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.data.DatasetWindows;
import io.orthoslice.common.logging.LogIdentity;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.worker.CoordinatorChannels;
import io.orthoslice.worker.CoordinatorClient;
import io.orthoslice.worker.Worker;
import io.orthoslice.worker.WorkerMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.metrics.GpuMemoryMeters;
import io.orthoslice.common.metrics.MetricsPorts;
import io.orthoslice.common.metrics.MetricsServer;
import io.orthoslice.common.metrics.ProcessMeters;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code orthoslice worker}: joins a coordinator and trains its slices until the run ends. */
@Command(name = "worker", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Join a coordinator and train this worker's slice of every round.")
final class WorkerCommand implements Callable<Integer> {

  @Option(names = "--coordinator", required = true, paramLabel = "HOST:PORT", description = "The coordinator's address.")
  String coordinator;

  /** The environment variable that carries the run token (the coordinator reads the same). */
  public static final String TOKEN_ENV = Protocol.TOKEN_ENV;

  @Option(names = "--token", defaultValue = "${env:" + TOKEN_ENV + "}", description = "The run token (default: $" + TOKEN_ENV + ").")
  String token;

  @Option(names = "--name", defaultValue = "worker", description = "A name for logs. Default: ${DEFAULT-VALUE}.")
  String name;

  @Mixin DeviceOptions where;

  @Option(names = "--tls-ca", paramLabel = "PEM", description = "Use TLS, trusting this CA certificate.")
  Path tlsCa;

  @Option(names = "--fetch", defaultValue = "update",
      description = "update (one version behind: the round's change in the run's wire precision, added on this worker's"
          + " device; else the weights) | full (always the weights). Default: ${DEFAULT-VALUE}.")
  String fetch;

  @Option(names = MetricsPorts.FLAG, defaultValue = "" + MetricsPorts.WORKER,
      description = "Port of /metrics and /healthz (0: any free port, -1: off). Default: ${DEFAULT-VALUE}.")
  int metricsPort;

  @Option(names = MetricsPorts.LINGER_FLAG, defaultValue = "0",
      description = "Seconds to keep serving metrics after the run, so a last scrape sees its end. Default: ${DEFAULT-VALUE}.")
  double metricsLinger;

  @Option(names = "--give-up-after", defaultValue = "120", description = "Seconds to keep reconnecting to an unreachable coordinator. Default: ${DEFAULT-VALUE}.")
  long giveUpAfter;

  @Option(names = "--slow-down", defaultValue = "1", paramLabel = "F",
      description = "Simulate a machine F times slower: after each local step, sleep F - 1 times that step's seconds"
          + " (the round's fetch and submit are not slowed). For measuring stragglers (docs/RELIABILITY.md). Default:"
          + " ${DEFAULT-VALUE} (off).")
  double slowDown;

  @Mixin DataOptions data;

  @Mixin io.orthoslice.common.cli.LinkOptions link;

  @Override
  public Integer call() throws Exception {
    String device = where.apply();
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("--token (or $" + TOKEN_ENV + ") is required");
    }
    // logback.xml prints this on every line, from any thread: the name now, the worker id once joined.
    LogIdentity.set("worker", name);
    if (!(slowDown >= 1)) {
      throw new IllegalArgumentException("--slow-down must be >= 1, got " + slowDown);
    }
    if (!fetch.equals("update") && !fetch.equals("full")) {
      throw new IllegalArgumentException("--fetch must be update or full, got '" + fetch + "'");
    }
    ManagedChannel channel = CoordinatorChannels.open(coordinator, tlsCa);
    AtomicReference<TokenDataset> dataset = new AtomicReference<>();
    // The --name is the worker's label: bounded and known before joining (the id comes later).
    PrometheusMeterRegistry registry = ProcessMeters.create("worker", "worker", name);
    WorkerMetrics metrics = new WorkerMetrics(registry);
    GpuMemoryMeters.bindIfGpu(registry, DeviceSpec.parse(device));
    try (MetricsServer http = MetricsServer.startUnlessOff(metricsPort, registry::scrape);
        Worker worker = new Worker(new CoordinatorClient(shaped(channel), channel, token, Duration.ofSeconds(giveUpAfter)),
        name, device, fetch.equals("update"), metrics).slowedDown(slowDown)
            .onJoined(id -> LogIdentity.set("worker", id))) {
      if (http != null) {
        System.out.println("worker " + name + " metrics on port " + http.port());
        http.lingerOnClose(Duration.ofMillis(Math.round(metricsLinger * 1000)));
        // Ready once joined: before that the worker has no run to train.
        metrics.whenJoined(http::ready);
      }
      // SIGTERM / Ctrl-C: abandon the round and tell the coordinator, so it need not wait for us.
      Thread hook = new Thread(() -> worker.leave("terminated"), "worker-leave");
      Runtime.getRuntime().addShutdownHook(hook);
      Worker.Summary s = worker.run(run -> {
        TokenDataset ds = data.open();
        dataset.set(ds);
        return new DatasetWindows(ds, run.config().seqLen(), run.config().seed());
      });
      System.out.printf(Locale.ROOT, "worker %s done: %d rounds trained, %d late; sent %,d bytes, received %,d bytes;"
          + " last local loss %.4f%n", s.workerId(), s.roundsTrained(), s.roundsLate(), s.bytesSent(),
          s.bytesReceived(), s.lastLoss());
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down
      }
      return 0;
    } finally {
      if (dataset.get() != null) {
        dataset.get().close();
      }
    }
  }

  /** The channel through this worker's simulated link, if it has one. */
  private io.grpc.Channel shaped(io.grpc.Channel channel) {
    io.orthoslice.common.wire.LinkModel m = link.model();
    return m.shapes() ? io.grpc.ClientInterceptors.intercept(channel, new io.orthoslice.worker.LinkShaping(m)) : channel;
  }
}
