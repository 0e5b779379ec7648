package io.orthoslice.worker.cli;

import io.orthoslice.common.cli.KernelOptions;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Where a command computes: the device, and whether the native kernels run (--kernels). */
final class DeviceOptions {

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or gpu:N. Default: ${DEFAULT-VALUE}.")
  String device;

  @Mixin KernelOptions kernels;

  /** Applies {@code --kernels} to this process and returns {@code --device}. */
  String apply() {
    kernels.apply(device);
    return device;
  }
}
