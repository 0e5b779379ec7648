package io.orthoslice.worker.launch;

import java.nio.file.Path;
import java.util.List;

/**
 * A local run: one coordinator and N worker processes on this machine.
 *
 * @param coordinatorArgs passed to the coordinator as is (mode, rank, rounds, ...), besides port,
 *     workers and output, which the launcher sets
 * @param workerArgs passed to every worker as is (data, tokenizer, fetch)
 * @param gpus one device index per worker ({@code --device gpu:N}); empty for CPU
 * @param threadsPerProcess OMP_NUM_THREADS of each child (torch's intra-op threads)
 * @param metricsPort the coordinator's metrics port; worker i gets {@code metricsPort + 1 + i}. 0:
 *     free ports chosen by the launcher; -1: no metrics endpoints
 * @param hostWorker worker-0 runs in the coordinator's process ({@code cli.HostingCoordinator}): on a GPU they
 *     share, one CUDA context instead of two that the card runs by turns
 */
public record LaunchConfig(int workers, Path runDir, List<String> coordinatorArgs, List<String> workerArgs,
    List<Integer> gpus, int threadsPerProcess, List<String> jvmArgs, int metricsPort, boolean hostWorker) {

  /** Every worker in a process of its own. */
  public LaunchConfig(int workers, Path runDir, List<String> coordinatorArgs, List<String> workerArgs,
      List<Integer> gpus, int threadsPerProcess, List<String> jvmArgs, int metricsPort) {
    this(workers, runDir, coordinatorArgs, workerArgs, gpus, threadsPerProcess, jvmArgs, metricsPort, false);
  }

  /** Without a fixed metrics port: the launcher picks free ones. */
  public LaunchConfig(int workers, Path runDir, List<String> coordinatorArgs, List<String> workerArgs,
      List<Integer> gpus, int threadsPerProcess, List<String> jvmArgs) {
    this(workers, runDir, coordinatorArgs, workerArgs, gpus, threadsPerProcess, jvmArgs, 0);
  }

  /** {@code --threads}' default, as picocli needs it: automatic ({@link #threadsPerProcess}). */
  public static final String AUTO_THREADS = "0";

  /**
   * Torch threads per process for {@code --threads N} (0: automatic). On the CPU the processes share
   * the cores, one thread each (more only oversubscribes them). With GPUs the workers' steps run on
   * their devices and the host work left (the coordinator's merge, a worker's rebuild of the round's
   * update) is CPU-bound, so the cores are split evenly over the coordinator and the workers.
   */
  public static int threadsPerProcess(int requested, int workers, boolean onGpus, int cores) {
    if (requested < 0) {
      throw new IllegalArgumentException("--threads must be >= 0 (0: automatic), got " + requested);
    }
    if (requested > 0) {
      return requested;
    }
    return onGpus ? Math.max(1, cores / (workers + 1)) : 1;
  }

  public LaunchConfig {
    if (workers < 1) {
      throw new IllegalArgumentException("workers must be >= 1, got " + workers);
    }
    if (!gpus.isEmpty() && gpus.size() != workers) {
      throw new IllegalArgumentException("--gpus must list one device per worker (" + workers + "), got " + gpus);
    }
    if (threadsPerProcess < 1) {
      throw new IllegalArgumentException("threads per process must be >= 1, got " + threadsPerProcess);
    }
    if (metricsPort < -1 || metricsPort > 65535 - workers - 1) {
      throw new IllegalArgumentException("metrics port must be -1 (off), 0 (free ports) or 1.." + (65535 - workers - 1)
          + ", got " + metricsPort);
    }
    coordinatorArgs = List.copyOf(coordinatorArgs);
    workerArgs = List.copyOf(workerArgs);
    gpus = List.copyOf(gpus);
    jvmArgs = List.copyOf(jvmArgs);
  }
}
