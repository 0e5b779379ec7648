package io.orthoslice.worker.cli;

import io.orthoslice.common.kernels.KernelChoice;
import io.orthoslice.common.kernels.Kernels;
import picocli.CommandLine.Option;

/** Where a command computes: the device, and which kernels run attention, RMSNorm and AdamW. */
final class DeviceOptions {

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or gpu:N. Default: ${DEFAULT-VALUE}.")
  String device;

  @Option(names = "--kernels", defaultValue = "auto", paramLabel = "auto|native|djl",
      description = "Attention, RMSNorm and the AdamW step: native (Orthoslice's fused kernels, built by"
          + " common/src/main/cpp/build.sh for the libtorch DJL loads; README 'Native kernels'), djl (DJL's ops),"
          + " or auto (native when built for this libtorch). Default: ${DEFAULT-VALUE}.")
  String kernels;

  /** Applies {@code --kernels} to this process and returns {@code --device}. */
  String apply() {
    Kernels.configure(KernelChoice.parse(kernels));
    return device;
  }
}
