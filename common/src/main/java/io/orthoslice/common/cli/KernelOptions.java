package io.orthoslice.common.cli;

import io.orthoslice.common.kernels.KernelChoice;
import io.orthoslice.common.kernels.Kernels;
import picocli.CommandLine.Option;

/** {@code --kernels}: whether this process uses Orthoslice's native library ({@link Kernels}). */
public final class KernelOptions {

  @Option(names = "--kernels", defaultValue = "auto", paramLabel = "auto|native|djl",
      description = "Orthoslice's native library (built by common/src/main/cpp/build.sh for the libtorch DJL loads;"
          + " README 'Native kernels'): the step's fused ops, the merge's checksum and finiteness sums, and on a GPU"
          + " the coordinator's own CUDA stream. native (required), djl (DJL's ops), or auto (native when built for"
          + " this libtorch). Default: ${DEFAULT-VALUE}.")
  String kernels;

  @Option(names = "--deterministic", description = "The same seed and data give the same bits on a GPU too: torch's"
      + " deterministic algorithms, switched on through the native library (without them flash attention's backward"
      + " sums in a different order each run). Needs --kernels native on a GPU; the CPU is deterministic already."
      + " Off by default until its cost is measured.")
  boolean deterministic;

  /**
   * Applies the choice to this process (before any thread that uses the kernels starts, and before any
   * device work: cuBLAS reads its workspace setting when its first handle is made).
   *
   * @param device where this process computes ({@code cpu}, {@code gpu}, {@code gpu:N}; a GPU if any of
   *     several does)
   */
  public void apply(String device) {
    Kernels.configure(KernelChoice.parse(kernels));
    Kernels.deterministic(deterministic, io.orthoslice.common.config.DeviceSpec.namesGpu(device));
  }
}
