package io.orthoslice.coordinator.cli;

import io.orthoslice.coordinator.BackgroundCheckpointer;
import io.orthoslice.coordinator.Coordinator;
import io.orthoslice.coordinator.CoordinatorMetrics;
import io.orthoslice.coordinator.DatasetValidation;
import io.orthoslice.coordinator.ResumeState;
import io.orthoslice.coordinator.RoundCheckpoints;
import io.orthoslice.coordinator.RoundResult;
import io.orthoslice.coordinator.RunSummary;
import io.orthoslice.coordinator.RunSettings;
import io.orthoslice.coordinator.WeightsSnapshot;
import io.orthoslice.coordinator.grpc.CoordinatorServer;
import io.orthoslice.coordinator.grpc.CoordinatorService;

import io.orthoslice.common.cli.RunConfigDefaults;
import io.orthoslice.common.cli.RunConfigOptions;
import io.orthoslice.common.config.RunConfig;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerBuilder;
import io.grpc.TlsServerCredentials;
import io.orthoslice.common.config.FileErrors;
import io.orthoslice.common.data.DefaultCorpus;
import io.orthoslice.common.logging.LogIdentity;
import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.data.Tokenizer;
import io.orthoslice.common.data.Tokenizers;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.orthoslice.common.metrics.MetricsPorts;
import io.orthoslice.common.metrics.MetricsServer;
import io.orthoslice.common.metrics.ProcessMeters;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.data.DatasetWindows;
import io.orthoslice.common.train.ModelInit;
import io.orthoslice.common.wire.Protocol;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code orthoslice coordinator}: serves one distributed run and exits when its last round has
 * merged. Prints "listening on port N", one line per round, and the final validation perplexity;
 * writes {@code summary.json} into --output.
 */
@Command(name = "coordinator", mixinStandardHelpOptions = true, sortOptions = false,
    defaultValueProvider = RunConfigDefaults.class,
    subcommands = {BenchMergeCommand.class, BenchCheckpointCommand.class},
    description = "Run the coordinator of a distributed Orthoslice run (or time its merge: bench-merge; its checkpoints:"
        + " bench-checkpoint).")
public final class CoordinatorMain implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(CoordinatorMain.class);

  /** The default gRPC port; deploy/ uses the same (a test checks). */
  /** How long the end of a run waits for the workers to leave before the coordinator exits anyway. */
  static final Duration DRAIN = Duration.ofSeconds(10);

  public static final int DEFAULT_PORT = 7070;
  /** The file in --output that holds the run's settings as this coordinator ran them. */
  public static final String RUN_JSON = io.orthoslice.common.train.RunFiles.RUN_CONFIG;
  /** The environment variable that carries the run token. */
  public static final String TOKEN_ENV = Protocol.TOKEN_ENV;

  @Option(names = "--port", defaultValue = "" + DEFAULT_PORT, description = "TCP port (0: any free port). Default: ${DEFAULT-VALUE}.")
  int port;
  @Option(names = MetricsPorts.FLAG, defaultValue = "" + MetricsPorts.COORDINATOR,
      description = "Port of /metrics and /healthz (0: any free port, -1: off). Default: ${DEFAULT-VALUE}.")
  int metricsPort;
  @Option(names = MetricsPorts.LINGER_FLAG, defaultValue = "0",
      description = "Seconds to keep serving metrics after the run, so a last scrape sees its end. Default: ${DEFAULT-VALUE}.")
  double metricsLinger;
  @Option(names = "--token", defaultValue = "${env:" + TOKEN_ENV + "}", description = "Run token every worker must present (default: $" + TOKEN_ENV + ").")
  String token;
  @Option(names = "--tls-cert", paramLabel = "PEM", description = "Serve TLS with this certificate chain (with --tls-key).")
  Path tlsCert;
  @Option(names = "--tls-key", paramLabel = "PEM", description = "Private key (PKCS#8 PEM) for --tls-cert.")
  Path tlsKey;
  @Mixin
  RunConfigOptions run;
  @Option(names = "--config", paramLabel = "RUN_JSON", description = "The run's settings as a run.json (what launch"
      + " and sweep write); options given beside it replace its values.")
  Path config;
  @Option(names = "--output", defaultValue = "runs/coordinator", description = "Run directory (run.json, rounds.jsonl, checkpoints/, summary.json). Default: ${DEFAULT-VALUE}.")
  Path output;
  @Option(names = "--resume", description = "Continue from the newest checkpoint in --output/checkpoints.")
  boolean resume;
  @Option(names = "--device", defaultValue = "cpu", description = "Where the merge's lifts and the validation pass"
      + " compute: cpu (all its cores), gpu or gpu:N. The weights stay on the host either way. Default: ${DEFAULT-VALUE}.")
  String device;
  @Mixin io.orthoslice.common.cli.KernelOptions kernels;
  @picocli.CommandLine.Mixin io.orthoslice.common.cli.LinkOptions link;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** A run that stopped before its last round (exit status 1). */
  static final class RunStopped extends RuntimeException {
    RunStopped(String message) {
      super(message);
    }
  }

  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new CoordinatorMain());
    cl.setParameterExceptionHandler((ex, a) -> {
      ex.getCommandLine().getErr().println("error: " + ex.getMessage());
      return 2;
    });
    cl.setExecutionExceptionHandler((ex, c, p) -> {
      if (ex instanceof IllegalArgumentException) {
        c.getErr().println("error: " + ex.getMessage());
        return 2;
      }
      Optional<String> file = FileErrors.line(ex);
      if (file.isPresent()) {
        c.getErr().println("error: " + file.get());
        return 1;
      }
      if (ex instanceof RunStopped) {
        // The stack trace is in the log above; one line here.
        c.getErr().println("error: " + ex.getMessage());
        return 1;
      }
      throw ex;
    });
    return cl;
  }

  @Override
  public Integer call() throws Exception {
    LogIdentity.set("coordinator", null); // on every log line, from any thread
    // Before any of the coordinator's threads exists: each takes the side stream when it starts (SideStream).
    kernels.apply(device);
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("--token (or $" + TOKEN_ENV + ") is required");
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together");
    }
    Optional<Path> previous = RoundCheckpoints.latestIn(output.resolve("checkpoints"));
    if (!resume && previous.isPresent()) {
      // A fresh run here would collide with (and must never replace) that run's checkpoints.
      throw new IllegalArgumentException("--output " + output + " already holds checkpoint " + previous.get()
          + "; pass --resume to continue that run or choose another --output");
    }
    RunConfig rc = config == null ? run.toConfig() : run.toConfig(RunConfig.read(config));
    PrintStream out = System.out;
    PrometheusMeterRegistry registry = ProcessMeters.create("coordinator");
    CoordinatorMetrics metrics = new CoordinatorMetrics(registry);
    try (MetricsServer http = MetricsServer.startUnlessOff(metricsPort, registry::scrape);
        TokenDataset ds = TokenDataset.open(dataset(rc.data() == null ? null : Path.of(rc.data()), rc.tokenizer()))) {
      if (http != null) {
        out.println("coordinator metrics on port " + http.port());
        http.lingerOnClose(Duration.ofMillis(Math.round(metricsLinger * 1000)));
        out.flush();
      }
      RunSettings settings = new RunSettings(rc.model(ds.manifest().vocabSize()), rc, ds.id());
      LlamaConfig model = settings.model();
      RoundMode m = settings.mode();
      int rounds = rc.rounds();
      Files.createDirectories(output);
      rc.write(output.resolve(RUN_JSON));
      metrics.runInfo(settings);
      RoundCheckpoints ckpt = new RoundCheckpoints(output.resolve("checkpoints"), rc.keepCheckpoints(), settings,
          ds.manifest().bosId(), ds.manifest().eosId());
      io.orthoslice.common.wire.LinkModel shaped = link.model(); // a bad --link-rate fails before anything starts
      ai.djl.Device where = io.orthoslice.common.config.DeviceSpec.parse(device);
      Optional<ResumeState> saved = resume ? ckpt.latest() : Optional.empty();
      if (resume && saved.isEmpty()) {
        // Crashed before its first checkpoint (or never started): a fresh start is that run's continuation.
        out.println("--resume: no checkpoint in " + output.resolve("checkpoints") + " yet; starting the run fresh");
      }
      ResumeState start = saved.orElseGet(() -> ResumeState.fresh(WeightsSnapshot.initial(model, rc.seed())));
      RunSummary earlier = saved.isPresent() ? RunSummary.earlier(output, start.nextRound()) : RunSummary.fresh();
      boolean finished = start.nextRound() >= rounds;
      List<long[]> val = new DatasetWindows(ds, rc.seqLen(), rc.seed()).validationBatches(rc.evalBatches(), rc.batchSize());
      List<RoundResult> results = new ArrayList<>();
      long started = System.nanoTime();
      java.util.concurrent.atomic.AtomicReference<Coordinator> running = new java.util.concurrent.atomic.AtomicReference<>();
      try (BackgroundCheckpointer writer = new BackgroundCheckpointer(ckpt, rounds);
          Coordinator core = new Coordinator(settings, start, new DatasetValidation(model, val, rc.batchSize(), where,
              settings.train().precision().compute()),
              r -> {
                synchronized (out) {
                  out.println(r.line(rounds));
                  out.flush();
                }
                results.add(r);
                appendRound(output, r);
                // After every round, not only at the end: a process killed mid-run (or after its last checkpoint)
                // leaves its rounds for the resumed one to keep (RunSummary.earlier); otherwise they were lost.
                try {
                  earlier.write(output, settings, running.get().record().initialValidationLoss(), results,
                      (System.nanoTime() - started) / 1e9);
                } catch (IOException e) {
                  LOG.warn("{} could not be written after round {} ({}); trying again after the next", output.resolve(
                      RunSummary.FILE), r.round() + 1, e.getMessage());
                }
              }, writer, metrics, where);
          CoordinatorServer server = new CoordinatorServer(serverBuilder(),
              new CoordinatorService(core, CoordinatorService.runSpec(settings, UUID.randomUUID().toString(),
                  ds.manifest().bosId(), ds.manifest().eosId()), Duration.ofSeconds(20), metrics), token, shaped)) {
        running.set(core);
        core.start();
        if (http != null) {
          http.ready();
        }
        out.println("coordinator listening on port " + server.port() + " (" + m.label() + ", " + rc.workers()
            + " workers, rank " + rc.rank() + ", " + rounds + " rounds x " + rc.localSteps() + " local steps)");
        out.flush();
        if (finished) {
          // Nothing to train: keep summary.json as the run left it, tell every worker that joins to leave.
          out.println("the run in " + output + " is finished (its checkpoint is after round " + rounds + " of "
              + rounds + "); summary.json is kept, and workers that join are told to leave");
          out.flush();
          if (!core.awaitWorkersToldToLeave(rc.workers(), settings.heartbeatTimeout())) {
            out.println("exiting after " + settings.heartbeatTimeout().toSeconds() + " s without hearing from every"
                + " worker; they learn that the run is finished at their next call");
          }
          return 0;
        }
        core.record().awaitEnd(Duration.ofDays(365));
        double seconds = (System.nanoTime() - started) / 1e9;
        Optional<RuntimeException> failure = core.record().failure();
        String summaryFault = null;
        try {
          earlier.write(output, settings, core.record().initialValidationLoss(), results, seconds);
        } catch (IOException e) {
          // The run's own failure (a checkpoint that could not be written, say) stays the line to read;
          // an unwritable summary is said beside it, never instead of it.
          summaryFault = output.resolve("summary.json") + " could not be written (" + e.getMessage() + ")";
        }
        if (failure.isEmpty()) {
          // One println per line: logback writes to the same stream from other threads.
          out.println(String.format(Locale.ROOT, "done: %d rounds in %.1f s; validation perplexity %.2f -> %.2f",
              results.size(), seconds, Math.exp(core.record().initialValidationLoss()),
              results.isEmpty() ? Double.NaN : results.get(results.size() - 1).validationPerplexity()));
          out.println(String.format(Locale.ROOT, "final validation perplexity %.4f",
              results.isEmpty() ? Double.NaN : results.get(results.size() - 1).validationPerplexity()));
          out.flush();
        }
        // Let workers' pending polls see "finished" before the server goes away, for a bounded time.
        List<String> stayed = core.drain(DRAIN);
        if (!stayed.isEmpty()) {
          out.println("exiting without waiting longer for " + stayed.size() + " worker(s) that had not left after "
              + DRAIN.toSeconds() + " s: " + stayed + " (they learn it at their next call)");
        }
        if (failure.isPresent()) {
          throw new RunStopped("run stopped after " + results.size() + " of " + rounds + " rounds: "
              + failure.get().getMessage() + (summaryFault == null ? "" : "; " + summaryFault));
        }
        if (summaryFault != null) {
          throw new RunStopped("the run finished, but " + summaryFault + "; its checkpoints hold the weights");
        }
      }
    }
    return 0;
  }

  /**
   * Appends the round to {@code rounds.jsonl}, which {@code orthoslice report} reads while the run goes on. Unlike
   * a checkpoint it is not needed to continue the run, so a failed append is a warning, not the run's end.
   */
  private static void appendRound(Path output, RoundResult r) {
    Path file = output.resolve(io.orthoslice.common.train.RunFiles.ROUNDS);
    try {
      io.orthoslice.common.train.RunFiles.append(file, r);
    } catch (IOException e) {
      LOG.warn("round {} is missing from {}: {}", r.round() + 1, file, e.toString());
    }
  }

  private ServerBuilder<?> serverBuilder() throws IOException {
    return serverBuilder(port, tlsCert, tlsKey);
  }

  /** The coordinator's Netty server on {@code port}: TLS from --tls-cert/--tls-key when given, else plaintext. */
  public static ServerBuilder<?> serverBuilder(int port, Path tlsCert, Path tlsKey) throws IOException {
    if (tlsCert == null) {
      return Grpc.newServerBuilderForPort(port, InsecureServerCredentials.create());
    }
    for (Path f : List.of(tlsCert, tlsKey)) {
      if (!java.nio.file.Files.isRegularFile(f)) {
        throw new IllegalArgumentException((f == tlsCert ? "--tls-cert " : "--tls-key ") + f + " is not a file");
      }
    }
    try {
      return Grpc.newServerBuilderForPort(port, TlsServerCredentials.create(tlsCert.toFile(), tlsKey.toFile()));
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException("--tls-cert " + tlsCert + " and --tls-key " + tlsKey + " are not a PEM"
          + " certificate chain and its PKCS#8 PEM private key (" + e.getMessage() + ")", e);
    }
  }

  private static Path dataset(Path data, String tokenizer) throws IOException {
    if (data != null) {
      if (!Files.isDirectory(data)) {
        throw new IllegalArgumentException("--data " + data + " is not a directory made by 'orthoslice prepare-data'");
      }
      return data;
    }
    Tokenizer tok = Tokenizers.load(tokenizer);
    try {
      return DefaultCorpus.ensurePrepared(DefaultCorpus.defaultCacheRoot(), tok);
    } finally {
      if (tok instanceof AutoCloseable c) {
        try {
          c.close();
        } catch (Exception e) {
          throw new IllegalStateException("closing the tokenizer failed: " + e.getMessage(), e);
        }
      }
    }
  }
}
