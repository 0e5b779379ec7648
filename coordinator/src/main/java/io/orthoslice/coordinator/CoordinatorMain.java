package io.orthoslice.coordinator;

import io.orthoslice.common.config.DistributedDefaults;
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
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.WirePrecision;
import io.orthoslice.common.data.DatasetWindows;
import io.orthoslice.common.train.ModelInit;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
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
import picocli.CommandLine.Option;

/**
 * {@code orthoslice coordinator}: serves one distributed run and exits when its last round has
 * merged. Prints "listening on port N", one line per round, and the final validation perplexity;
 * writes {@code summary.json} into --output.
 */
@Command(name = "coordinator", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Run the coordinator of a distributed Orthoslice run.")
public final class CoordinatorMain implements Callable<Integer> {

  /** The default gRPC port; deploy/ uses the same (a test checks). */
  /** How long the end of a run waits for the workers to leave before the coordinator exits anyway. */
  static final Duration DRAIN = Duration.ofSeconds(10);

  public static final int DEFAULT_PORT = 7070;
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
  @Option(names = "--workers", defaultValue = DistributedDefaults.WORKERS, description = "Workers the first round waits for. Default: ${DEFAULT-VALUE}.")
  int workers;
  @Option(names = "--min-workers", defaultValue = "0", description = "Fewest live workers a later round opens with (0: --workers).")
  int minWorkers;
  @Option(names = "--rounds", defaultValue = "5", description = "Rounds. Default: ${DEFAULT-VALUE}.")
  int rounds;
  @Option(names = "--local-steps", defaultValue = "20", description = "Local steps H per round. Default: ${DEFAULT-VALUE}.")
  int localSteps;
  @Option(names = "--mode", defaultValue = DistributedDefaults.MODE, description = "orthogonal | independent | same | full. Default: ${DEFAULT-VALUE}.")
  String mode;
  @Option(names = "--rank", defaultValue = DistributedDefaults.RANK, description = "Rank r of each worker's slice. Default: ${DEFAULT-VALUE}.")
  int rank;
  @Option(names = "--scale", defaultValue = "1.0", description = "Adapter scale alpha. Default: ${DEFAULT-VALUE}.")
  double scale;
  @Option(names = "--preset", defaultValue = DistributedDefaults.PRESET, description = "Model preset. Default: ${DEFAULT-VALUE}.")
  String preset;
  @Option(names = "--seq-len", defaultValue = DistributedDefaults.SEQ_LEN, description = "Default: ${DEFAULT-VALUE}.")
  int seqLen;
  @Option(names = "--batch-size", defaultValue = DistributedDefaults.BATCH_SIZE, description = "Default: ${DEFAULT-VALUE}.")
  int batchSize;
  @Option(names = "--lr", defaultValue = DistributedDefaults.LR, description = "Peak learning rate. Default: ${DEFAULT-VALUE}.")
  double lr;
  @Option(names = "--min-lr", defaultValue = "2e-4", description = "Default: ${DEFAULT-VALUE}.")
  double minLr;
  @Option(names = "--warmup", defaultValue = "-1", description = "Warm-up steps (default: 10%% of all steps).")
  long warmup;
  @Option(names = "--weight-decay", defaultValue = "0.0", description = "Default: ${DEFAULT-VALUE}.")
  double weightDecay;
  @Option(names = "--grad-clip", defaultValue = "1.0", description = "Default: ${DEFAULT-VALUE}.")
  double gradClip;
  @Option(names = "--seed", defaultValue = DistributedDefaults.SEED, description = "Run seed. Default: ${DEFAULT-VALUE}.")
  long seed;
  @Option(names = "--data", paramLabel = "DIR", description = "Prepared dataset (default: the embedded Europarl sample).")
  Path data;
  @Option(names = "--tokenizer", defaultValue = DistributedDefaults.TOKENIZER, description = "With the default corpus. Default: ${DEFAULT-VALUE}.")
  String tokenizer;
  @Option(names = "--round-timeout", defaultValue = "300", description = "Round deadline in seconds. Default: ${DEFAULT-VALUE}.")
  double roundTimeout;
  @Option(names = "--heartbeat-timeout", defaultValue = "30", description = "Seconds of silence before a worker is dropped. Default: ${DEFAULT-VALUE}.")
  double heartbeatTimeout;
  @Option(names = "--eval-batches", defaultValue = "4", description = "Validation batches per evaluation. Default: ${DEFAULT-VALUE}.")
  int evalBatches;
  @Option(names = "--eval-every", defaultValue = "1", description = "Validate every E rounds and after the last."
      + " Default: ${DEFAULT-VALUE}.")
  int evalEvery;
  @Option(names = "--outer-lr", defaultValue = "1.0", description = "DiLoCo outer learning rate. Default: ${DEFAULT-VALUE}.")
  double outerLr;
  @Option(names = "--outer-momentum", defaultValue = "0.0", description = "DiLoCo outer Nesterov momentum (0: off). Default: ${DEFAULT-VALUE}.")
  double outerMomentum;
  @Option(names = "--merge", defaultValue = "mean", description = "How the factor updates of a projected matrix"
      + " combine: mean | sum | mean*F | sum*F | auto (each mode's rule by construction: sum for orthogonal, mean"
      + " for independent and same). mean is the measured best with several local steps (docs/RESULTS.md)."
      + " Default: ${DEFAULT-VALUE}.")
  String merge;
  @Option(names = "--slice-rounds", defaultValue = "1", description = "Re-draw the projections every R rounds."
      + " Default: ${DEFAULT-VALUE}.")
  int sliceRounds;
  @Option(names = "--round-warmup", defaultValue = "0", paramLabel = "W", description = "Ramp the learning rate up"
      + " again over the first W local steps of every round (0: none; at most --local-steps)."
      + " Default: ${DEFAULT-VALUE}.")
  int roundWarmup;
  @Option(names = "--inner-state", defaultValue = "reset", description = "Workers' optimizer state between rounds:"
      + " reset (fresh every round) | keep (kept; a re-drawn slice's moments reset) | transport (kept; a re-drawn"
      + " slice's moments moved by LDAdam's rule). Default: ${DEFAULT-VALUE}.")
  String innerState;
  @Option(names = "--wire", defaultValue = "f32", description = "How updates and the broadcast travel: f32 (exact;"
      + " dense values, factored broadcast) | f16 | int8 (per-row scales): changes only, with error feedback on both"
      + " sides (docs/PERFORMANCE.md). Default: ${DEFAULT-VALUE}.")
  String wire;
  @Option(names = "--wire-density", defaultValue = "1", description = "On a lossy wire, the fraction of every change's"
      + " entries sent (the largest, with their positions); the rest waits in the error feedback. 1: all."
      + " Default: ${DEFAULT-VALUE}.")
  double wireDensity;
  @Option(names = "--max-update-value", defaultValue = "1e4", description = "Largest |value| an update may hold;"
      + " more, or a non-finite value, refuses the update. Default: ${DEFAULT-VALUE}.")
  double maxUpdateValue;
  @Option(names = "--update-outlier-factor", defaultValue = "10", description = "With 3 or more updates in a round,"
      + " leave out one whose change of any tensor exceeds F x the round's median (0: off). Default: ${DEFAULT-VALUE}.")
  double updateOutlierFactor;
  @Option(names = "--output", defaultValue = "runs/coordinator", description = "Run directory (summary.json, checkpoints/). Default: ${DEFAULT-VALUE}.")
  Path output;
  @Option(names = "--checkpoint-every", defaultValue = "0", description = "Checkpoint every C rounds (0: at the end only). Default: ${DEFAULT-VALUE}.")
  int checkpointEvery;
  @Option(names = "--resume", description = "Continue from the newest checkpoint in --output/checkpoints.")
  boolean resume;

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
    PrintStream out = System.out;
    PrometheusMeterRegistry registry = ProcessMeters.create("coordinator");
    CoordinatorMetrics metrics = new CoordinatorMetrics(registry);
    try (MetricsServer http = MetricsServer.startUnlessOff(metricsPort, registry::scrape);
        TokenDataset ds = TokenDataset.open(dataset())) {
      if (http != null) {
        out.println("coordinator metrics on port " + http.port());
        http.lingerOnClose(Duration.ofMillis(Math.round(metricsLinger * 1000)));
        out.flush();
      }
      RoundMode m = RoundMode.parse(mode);
      RoundRules.requireRoundWarmup(roundWarmup, localSteps);
      long steps = (long) rounds * localSteps;
      TrainConfig train = new TrainConfig(seqLen, batchSize, 1, steps, warmup < 0 ? Math.max(1, steps / 10) : warmup,
          lr, minLr, 0.9, 0.95, 1e-8, weightDecay, gradClip, seed, Precision.FP32,
          RunSettings.workerMethod(m, rank, scale));
      LlamaConfig base = LlamaConfig.preset(preset).withVocabSize(ds.manifest().vocabSize());
      LlamaConfig model = base.maxPositionEmbeddings() >= seqLen ? base : base.withMaxPositionEmbeddings(seqLen);
      RunSettings settings = new RunSettings(model, train, m, rank, localSteps, rounds, workers,
          minWorkers == 0 ? workers : minWorkers, Duration.ofMillis((long) (roundTimeout * 1000)),
          Duration.ofMillis((long) (heartbeatTimeout * 1000)), ds.id(), outerLr, outerMomentum, checkpointEvery,
          evalBatches, new RoundRules("auto".equalsIgnoreCase(merge) ? MergeRule.byConstruction(m) : MergeRule.parse(merge),
              sliceRounds, InnerState.parse(innerState), WirePrecision.parse(wire), wireDensity, roundWarmup), evalEvery,
          new UpdateLimits(maxUpdateValue, updateOutlierFactor));
      metrics.runInfo(settings);
      RoundCheckpoints ckpt = new RoundCheckpoints(output.resolve("checkpoints"), 3, settings,
          ds.manifest().bosId(), ds.manifest().eosId());
      ResumeState start = resume
          ? ckpt.latest().orElseThrow(() -> new IllegalArgumentException("--resume: no checkpoint in "
              + output.resolve("checkpoints")))
          : ResumeState.fresh(initialWeights(model, seed));
      List<long[]> val = new DatasetWindows(ds, seqLen, seed).validationBatches(evalBatches, batchSize);
      List<RoundResult> results = new ArrayList<>();
      long started = System.nanoTime();
      try (Coordinator core = new Coordinator(settings, start, new DatasetValidation(model, val, batchSize),
              r -> {
                synchronized (out) {
                  out.println(r.line(rounds));
                  out.flush();
                }
                results.add(r);
              }, ckpt, metrics);
          CoordinatorServer server = new CoordinatorServer(serverBuilder(),
              new CoordinatorService(core, CoordinatorService.runSpec(settings, UUID.randomUUID().toString(),
                  ds.manifest().bosId(), ds.manifest().eosId()), Duration.ofSeconds(20), metrics), token)) {
        core.start();
        if (http != null) {
          http.ready();
        }
        out.println("coordinator listening on port " + server.port() + " (" + m.label() + ", " + workers
            + " workers, rank " + rank + ", " + rounds + " rounds x " + localSteps + " local steps)");
        out.flush();
        core.record().awaitEnd(Duration.ofDays(365));
        double seconds = (System.nanoTime() - started) / 1e9;
        writeSummary(settings, core, results, seconds);
        Optional<RuntimeException> failure = core.record().failure();
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
              + failure.get().getMessage());
        }
      }
    }
    return 0;
  }

  private ServerBuilder<?> serverBuilder() throws IOException {
    return serverBuilder(port, tlsCert, tlsKey);
  }

  /** The coordinator's Netty server on {@code port}: TLS from --tls-cert/--tls-key when given, else plaintext. */
  public static ServerBuilder<?> serverBuilder(int port, Path tlsCert, Path tlsKey) throws IOException {
    if (tlsCert == null) {
      return Grpc.newServerBuilderForPort(port, InsecureServerCredentials.create());
    }
    return Grpc.newServerBuilderForPort(port, TlsServerCredentials.create(tlsCert.toFile(), tlsKey.toFile()));
  }

  private Path dataset() throws IOException {
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

  /** The run's initial weights (ModelInit, float32) as version 0. */
  public static WeightsSnapshot initialWeights(LlamaConfig model, long seed) {
    try (NDManager m = NDManager.newBaseManager()) {
      LinkedHashMap<String, float[]> w = new LinkedHashMap<>();
      for (Map.Entry<String, NDArray> e : ModelInit.initialize(model, seed, m, DataType.FLOAT32).entrySet()) {
        w.put(e.getKey(), e.getValue().toFloatArray());
      }
      return new WeightsSnapshot(0, w);
    }
  }

  private void writeSummary(RunSettings s, Coordinator core, List<RoundResult> results, double seconds)
      throws IOException {
    Files.createDirectories(output);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mode", s.mode().label());
    m.put("workers", s.expectedWorkers());
    m.put("rank", s.rank());
    m.put("rounds", s.rounds());
    m.put("local_steps", s.localSteps());
    m.put("merge", s.rules().merge().label());
    m.put("slice_rounds", s.rules().sliceRounds());
    m.put("inner_state", s.rules().innerState().label());
    m.put("wire", s.rules().wire().label());
    m.put("wire_density", s.rules().density());
    m.put("round_warmup", s.rules().roundWarmup());
    m.put("outer_lr", s.outerLr());
    m.put("outer_momentum", s.outerMomentum());
    m.put("lr", s.train().lr());
    m.put("seed", s.train().seed());
    m.put("preset", preset);
    m.put("seq_len", seqLen);
    m.put("seconds", seconds);
    m.put("initial_validation_loss", core.record().initialValidationLoss());
    m.put("round_results", results);
    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(output.resolve("summary.json").toFile(), m);
  }
}
