package io.orthoslice.worker.cli;

import io.orthoslice.common.config.DistributedDefaults;
import io.orthoslice.common.checkpoint.CheckpointStore;
import io.orthoslice.common.kernels.KernelChoice;
import io.orthoslice.common.metrics.MetricsPorts;
import io.orthoslice.worker.launch.LaunchConfig;
import io.orthoslice.worker.launch.Launcher;
import io.orthoslice.common.data.Manifest;
import io.orthoslice.common.data.PrepareData;
import io.orthoslice.common.data.Tokenizers;
import io.orthoslice.common.model.LlamaConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.WirePrecision;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code orthoslice launch}: a coordinator plus N workers on this machine, with one progress view. */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run a coordinator and N worker processes on this machine; print one line per round and the"
        + " final validation perplexity. Logs go to <run-dir>/coordinator.log and worker-<i>.log."})
final class LaunchCommand implements Callable<Integer> {

  @Option(names = "--workers", defaultValue = DistributedDefaults.WORKERS, description = "Worker processes. Default: ${DEFAULT-VALUE}.")
  int workers;
  @Option(names = "--rounds", defaultValue = "4", description = "Default: ${DEFAULT-VALUE}.")
  int rounds;
  @Option(names = "--local-steps", defaultValue = "15", description = "Local steps H per round. Default: ${DEFAULT-VALUE}.")
  int localSteps;
  @Option(names = "--mode", defaultValue = DistributedDefaults.MODE, description = "orthogonal | independent | same | full. Default: ${DEFAULT-VALUE}.")
  String mode;
  @Option(names = "--rank", defaultValue = DistributedDefaults.RANK, description = "Default: ${DEFAULT-VALUE}.")
  int rank;
  @Option(names = "--preset", defaultValue = DistributedDefaults.PRESET, description = "Default: ${DEFAULT-VALUE}.")
  String preset;
  @Option(names = "--seq-len", defaultValue = DistributedDefaults.SEQ_LEN, description = "Default: ${DEFAULT-VALUE}.")
  int seqLen;
  @Option(names = "--batch-size", defaultValue = DistributedDefaults.BATCH_SIZE, description = "Default: ${DEFAULT-VALUE}.")
  int batchSize;
  @Option(names = "--lr", defaultValue = DistributedDefaults.LR, description = "Peak learning rate. Default: ${DEFAULT-VALUE}.")
  double lr;
  @Option(names = "--seed", defaultValue = DistributedDefaults.SEED, description = "Default: ${DEFAULT-VALUE}.")
  long seed;
  @Option(names = "--data", paramLabel = "DIR", description = "Prepared dataset (default: the embedded Europarl sample).")
  Path data;
  @Option(names = "--tokenizer", defaultValue = DistributedDefaults.TOKENIZER, description = "Default: ${DEFAULT-VALUE}.")
  String tokenizer;
  @Option(names = "--kernels", paramLabel = "auto|native|djl",
      description = "The workers' --kernels (see worker --help). Default: the worker's, auto.")
  String kernels;

  @Option(names = "--gpus", split = ",", paramLabel = "N,N,...", description = "One GPU index per worker (default: CPU).")
  List<Integer> gpus = new ArrayList<>();
  @Option(names = "--run-dir", description = "Logs and the coordinator's checkpoints. Default: a new"
      + " runs/launch/<yyyyMMdd-HHmmss>, so a second launch never meets the first one's checkpoints.")
  Path runDir;
  @Option(names = "--threads", defaultValue = "1", description = "Torch threads per process (OMP_NUM_THREADS). Default: ${DEFAULT-VALUE}.")
  int threads;
  @Option(names = MetricsPorts.FLAG, defaultValue = "" + MetricsPorts.COORDINATOR,
      description = "The coordinator's metrics port; worker i gets this + 1 + i (0: free ports, -1: off)."
          + " Default: ${DEFAULT-VALUE}.")
  int metricsPort;
  @Option(names = "--merge", description = "mean | sum | auto: how the factor updates of a projected matrix combine"
      + " (the coordinator's default: mean, the measured best; auto = sum for orthogonal, mean for the others).")
  String merge;
  @Option(names = "--slice-rounds", description = "Re-draw the projections every R rounds (the coordinator's default: 1).")
  Integer sliceRounds;
  @Option(names = "--inner-state", description = "Workers' optimizer state between rounds: reset | keep | transport"
      + " (the coordinator's default: reset).")
  String innerState;
  @Option(names = "--outer-lr", description = "Outer learning rate on the merged change (the coordinator's default: 1).")
  Double outerLr;
  @Option(names = "--outer-momentum", description = "Outer Nesterov momentum (the coordinator's default: 0).")
  Double outerMomentum;
  @Option(names = "--wire", description = "How updates and the broadcast travel: f32 | f16 | int8 (the coordinator's"
      + " default: f32).")
  String wire;
  @Option(names = "--wire-density", description = "On a lossy wire, the fraction of every change's entries sent"
      + " (the coordinator's default: 1).")
  Double wireDensity;
  @Option(names = "--round-warmup", paramLabel = "W", description = "Ramp the learning rate up again over the first W"
      + " local steps of every round (the coordinator's default: 0, none).")
  Integer roundWarmup;
  @Option(names = "--coordinator-arg", paramLabel = "ARG", description = "Extra coordinator argument (repeatable), e.g. --coordinator-arg=--outer-momentum=0.9.")
  List<String> extraCoordinator = new ArrayList<>();

  /**
   * Heap of each child per float32 byte of the model: a process holds the weights, error-feedback
   * residuals, and gRPC messages being built or parsed (the coordinator K uploads at once), each as
   * bytes and floats. Measured on the H200 with 60m and the GPT-2 vocabulary (77M parameters, 293 MiB):
   * 1 GiB (3.4x) runs out of memory in round 1, 8 GiB (27x) runs; 28x is at least the size that ran.
   */
  static final long HEAP_PER_MODEL_BYTE = 28;

  /** The children's -Xmx for a model of {@code parameters}: 28x its float32 size, at least 1 GiB, in MiB. */
  static long childHeapMiB(long parameters) {
    long bytes = HEAP_PER_MODEL_BYTE * Float.BYTES * parameters;
    return Math.max(1024, (bytes + (1 << 20) - 1) >> 20);
  }

  /**
   * JVM options of the children: workers share a machine's cores, and a heap sized to the model with
   * the serial collector keeps them from fighting over GC threads. Measured on the H200
   * (docs/PERFORMANCE.md): a 60m GPU step under these options is as fast as under the default
   * collector, so GPU runs use them too. {@code ORTHOSLICE_JAVA_OPTS} comes after them, so its
   * {@code -Xmx} wins.
   */
  static List<String> childJvm(long parameters) {
    List<String> opts = new ArrayList<>(List.of("-Xmx" + childHeapMiB(parameters) + "m", "-XX:+UseSerialGC"));
    String extra = System.getenv("ORTHOSLICE_JAVA_OPTS");
    if (extra != null && !extra.isBlank()) {
      opts.addAll(List.of(extra.trim().split("\\s+")));
    }
    return opts;
  }

  /** The children's options when the model is not known here (a coordinator started on its own): 1 GiB. */
  static List<String> childJvm() {
    return childJvm(0);
  }

  /**
   * Parameters of a run's model: the preset with the vocabulary of {@code data}'s manifest, or of the
   * tokenizer when there is no {@code data} (the embedded corpus is tokenized with it).
   */
  static long parameters(String preset, String tokenizer, Path data) {
    int vocab;
    if (data != null) {
      try {
        vocab = Manifest.read(data).vocabSize();
      } catch (IOException | IllegalArgumentException e) {
        throw new IllegalArgumentException("--data " + data + ": no readable " + PrepareData.MANIFEST
            + " with a vocabSize; give a directory made by orthoslice prepare-data");
      }
    } else {
      vocab = Tokenizers.load(tokenizer).vocabSize();
    }
    return LlamaConfig.preset(preset).withVocabSize(vocab).parameterCount();
  }

  @Override
  public Integer call() throws Exception {
    List<String> c = new ArrayList<>(List.of("--rounds", "" + rounds, "--local-steps", "" + localSteps, "--mode", mode,
        "--rank", "" + rank, "--preset", preset, "--seq-len", "" + seqLen, "--batch-size", "" + batchSize,
        "--lr", "" + lr, "--seed", "" + seed, "--tokenizer", tokenizer));
    List<String> w = new ArrayList<>(List.of("--tokenizer", tokenizer));
    if (kernels != null) {
      w.addAll(List.of("--kernels", KernelChoice.parse(kernels).toString()));
    }
    if (data != null) {
      c.addAll(List.of("--data", data.toString()));
      w.addAll(List.of("--data", data.toString()));
    }
    // Unset round options are left to the coordinator, the one place their defaults live; set ones are
    // checked here, before any process starts.
    if (innerState != null) {
      InnerState.parse(innerState);
    }
    if (wire != null || wireDensity != null) {
      new RoundRules(MergeRule.DEFAULT, 1, InnerState.RESET, wire == null ? WirePrecision.F32 : WirePrecision.parse(wire),
          wireDensity == null ? 1.0 : wireDensity); // the coordinator's own checks of the pair
    }
    if (roundWarmup != null) {
      RoundRules.requireRoundWarmup(roundWarmup, localSteps);
    }
    for (Object[] o : new Object[][] {{"--merge", merge}, {"--slice-rounds", sliceRounds},
        {"--inner-state", innerState}, {"--outer-lr", outerLr}, {"--outer-momentum", outerMomentum},
        {"--wire", wire}, {"--wire-density", wireDensity}, {"--round-warmup", roundWarmup}}) {
      if (o[1] != null) {
        c.addAll(List.of((String) o[0], o[1].toString()));
      }
    }
    c.addAll(extraCoordinator);
    Path dir = runDir != null ? runDir : Path.of("runs", "launch",
        LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
    Optional<Path> previous = new CheckpointStore(dir.resolve("coordinator").resolve("checkpoints"), 1).latest();
    if (previous.isPresent() && !extraCoordinator.contains("--resume")) {
      throw new IllegalArgumentException("--run-dir " + dir + " holds a previous run's checkpoint " + previous.get()
          + "; choose another --run-dir (or leave it out for a new one), or add --coordinator-arg=--resume to"
          + " continue that run");
    }
    Launcher.Result r = new Launcher(new LaunchConfig(workers, dir, c, w, gpus, threads,
        childJvm(parameters(preset, tokenizer, data)),
        metricsPort), System.out).run();
    return r.exitCode();
  }
}
