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

  /** Applies the choice to this process (before any thread that uses the kernels starts). */
  public void apply() {
    Kernels.configure(KernelChoice.parse(kernels));
  }
}
