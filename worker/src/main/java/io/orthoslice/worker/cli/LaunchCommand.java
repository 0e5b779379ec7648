package io.orthoslice.worker.cli;

import io.orthoslice.common.checkpoint.CheckpointStore;
import io.orthoslice.common.cli.RunConfigDefaults;
import io.orthoslice.common.cli.RunConfigOptions;
import io.orthoslice.common.config.RunConfig;
import java.nio.file.Files;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code orthoslice launch}: a coordinator plus N workers on this machine, with one progress view. */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
    defaultValueProvider = RunConfigDefaults.class,
    description = {"Run a coordinator and N worker processes on this machine; print one line per round and the"
        + " final validation perplexity. Logs go to <run-dir>/coordinator.log and worker-<i>.log."})
final class LaunchCommand implements Callable<Integer> {

  @Mixin
  RunConfigOptions run;
  @Mixin io.orthoslice.common.cli.LinkOptions link; // every worker's simulated link

  @Option(names = "--kernels", paramLabel = "auto|native|djl",
      description = "The workers' and the coordinator's --kernels (see worker --help). Default: theirs, auto.")
  String kernels;

  @Option(names = "--deterministic", description = "The workers' and the coordinator's --deterministic (see worker"
      + " --help): the same seed gives the same bits on a GPU too.")
  boolean deterministic;

  @Option(names = "--gpus", split = ",", paramLabel = "N,N,...", description = "One GPU index per worker (default: CPU).")
  List<Integer> gpus = new ArrayList<>();
  @Option(names = "--run-dir", description = "Logs and the coordinator's checkpoints. Default: a new"
      + " runs/launch/<yyyyMMdd-HHmmss>, so a second launch never meets the first one's checkpoints.")
  Path runDir;
  @Option(names = "--threads", defaultValue = LaunchConfig.AUTO_THREADS,
      description = "Torch threads per process (OMP_NUM_THREADS);"
      + " 0: one each on the CPU, the cores split over the coordinator and the workers with --gpus."
      + " Default: ${DEFAULT-VALUE}.")
  int threads;
  @Option(names = MetricsPorts.FLAG, defaultValue = "" + MetricsPorts.COORDINATOR,
      description = "The coordinator's metrics port; worker i gets this + 1 + i (0: free ports, -1: off)."
          + " Default: ${DEFAULT-VALUE}.")
  int metricsPort;
  @Option(names = "--host-worker", description = "Run worker-0 in the coordinator's process. Where the two share a"
      + " GPU (the default: the coordinator merges on worker-0's card) they then share one CUDA context, and the"
      + " coordinator's work runs between the worker's steps on a high-priority stream instead of waiting for the card's"
      + " turns between two processes. Needs the native kernels for the stream (--kernels native). Measured on an H100"
      + " it was slower than two processes (docs/PERFORMANCE.md, \"One card, two roles\").")
  boolean hostWorker;
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
   * JVM options of the children. CPU workers share a machine's cores, and the serial collector keeps them
   * from fighting over GC threads. Processes that train on GPUs keep the JVM's default collector (G1): under
   * the serial one a hosting coordinator's collections stopped the worker it hosts (350m on an H100: 48 pauses,
   * 11.6 s in all and up to 0.97 s at once in four rounds, against 1.9 s and 0.22 s under G1;
   * docs/PERFORMANCE.md). {@code ORTHOSLICE_JAVA_OPTS} comes after them, so its {@code -Xmx} wins, and a
   * collector it names replaces ours.
   */
  static List<String> childJvm(long parameters, boolean gpu) {
    List<String> opts = new ArrayList<>(List.of("-Xmx" + childHeapMiB(parameters) + "m"));
    String extra = System.getenv("ORTHOSLICE_JAVA_OPTS");
    List<String> more = extra == null || extra.isBlank() ? List.of() : List.of(extra.trim().split("\\s+"));
    if (!gpu && more.stream().noneMatch(o -> o.matches("-XX:\\+Use[A-Za-z]*GC"))) {
      opts.add("-XX:+UseSerialGC");
    }
    opts.addAll(more);
    return opts;
  }

  /** The children's options when the model is not known here (a coordinator started on its own): 1 GiB. */
  static List<String> childJvm() {
    return childJvm(0, false);
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
    RunConfig rc = run.toConfig();
    Path data = rc.data() == null ? null : Path.of(rc.data());
    List<String> w = new ArrayList<>(List.of("--tokenizer", rc.tokenizer()));
    if (kernels != null) {
      w.addAll(List.of("--kernels", KernelChoice.parse(kernels).toString()));
    }
    if (data != null) {
      w.addAll(List.of("--data", data.toString()));
    }
    if (deterministic) {
      w.add("--deterministic");
    }
    link.model(); // a bad --link-rate or --link-latency fails here, before any process starts
    w.addAll(link.args());
    Path dir = runDir != null ? runDir : Path.of("runs", "launch",
        LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
    Optional<Path> previous = new CheckpointStore(dir.resolve("coordinator").resolve("checkpoints"), 1).latest();
    if (previous.isPresent() && !extraCoordinator.contains("--resume")) {
      throw new IllegalArgumentException("--run-dir " + dir + " holds a previous run's checkpoint " + previous.get()
          + "; choose another --run-dir (or leave it out for a new one), or add --coordinator-arg=--resume to"
          + " continue that run");
    }
    // The coordinator reads the run from one file, the record's own dump; nothing is spelled twice.
    Files.createDirectories(dir);
    Path runJson = dir.resolve("run.json");
    rc.write(runJson);
    List<String> c = new ArrayList<>(List.of("--config", runJson.toString()));
    if (kernels != null) {
      c.addAll(List.of("--kernels", KernelChoice.parse(kernels).toString()));
    }
    if (deterministic) {
      c.add("--deterministic");
    }
    c.addAll(extraCoordinator);
    int perProcess = LaunchConfig.threadsPerProcess(threads, rc.workers(), !gpus.isEmpty(),
        Runtime.getRuntime().availableProcessors());
    // A hosting coordinator's heap holds a worker's too.
    long heapFor = parameters(rc.preset(), rc.tokenizer(), data) * (hostWorker ? 2 : 1);
    Launcher.Result r = new Launcher(new LaunchConfig(rc.workers(), dir, c, w, gpus, perProcess, childJvm(heapFor, !gpus.isEmpty()),
        metricsPort, hostWorker), System.out).run();
    return r.exitCode();
  }
}
