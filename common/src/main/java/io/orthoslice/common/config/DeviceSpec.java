package io.orthoslice.common.config;

import ai.djl.Device;
import io.orthoslice.common.tensor.TorchRuntime;
import ai.djl.engine.Engine;

/**
 * Parses {@code cpu}, {@code gpu} or {@code gpu:N} into a DJL device, checking that it exists and
 * that the PyTorch engine works on it ({@link TorchRuntime#check}).
 */
public final class DeviceSpec {

  private DeviceSpec() {}

  /** Whether {@code spec} names a GPU ({@code gpu}, {@code gpu:N}); no engine or device is touched. */
  public static boolean namesGpu(String spec) {
    String s = spec == null ? "" : spec.trim().toLowerCase(java.util.Locale.ROOT);
    return s.equals("gpu") || s.startsWith("gpu:");
  }

  public static Device parse(String spec) {
    String s = spec.trim().toLowerCase(java.util.Locale.ROOT);
    if (s.equals("cpu")) {
      TorchRuntime.check(Device.cpu());
      return Device.cpu();
    }
    if (namesGpu(s)) {
      TorchRuntime.check(Device.cpu()); // the engine itself first: a broken bridge fails even the GPU count
      int id = 0;
      if (s.startsWith("gpu:")) {
        try {
          id = Integer.parseInt(s.substring(4));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("device '" + spec + "' has a bad GPU index; allowed: cpu, gpu, gpu:N");
        }
      }
      int count = Engine.getInstance().getGpuCount();
      if (id < 0 || id >= count) {
        throw new IllegalArgumentException("device '" + spec + "' is not available: this machine has " + count
            + " GPU(s) visible to DJL (a CUDA build of libtorch is needed; see README 'GPUs')");
      }
      TorchRuntime.check(Device.gpu(id));
      return Device.gpu(id);
    }
    throw new IllegalArgumentException("unknown device '" + spec + "'; allowed: cpu, gpu, gpu:N");
  }
}
