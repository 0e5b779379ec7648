package io.orthoslice.common.metrics;

import ai.djl.Device;
import ai.djl.util.cuda.CudaUtils;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.management.MemoryUsage;
import java.util.function.Supplier;

/**
 * Memory of the GPU a process trains on, read at each scrape from the CUDA runtime
 * ({@code cudaMemGetInfo} through DJL): {@code orthoslice_gpu_memory_used_bytes} (the whole device's
 * use, which includes torch's caching allocator and other processes on that GPU) and
 * {@code orthoslice_gpu_memory_total_bytes}, labelled {@code device="gpu0"}. Nothing is registered
 * for a CPU run.
 */
public final class GpuMemoryMeters {

  private GpuMemoryMeters() {}

  /** Registers the gauges when {@code device} is a GPU. */
  public static void bindIfGpu(MeterRegistry registry, Device device) {
    if (device.isGpu()) {
      bind(registry, "gpu" + device.getDeviceId(), () -> CudaUtils.getGpuMemory(device));
    }
  }

  /**
   * The gauges over any reader of (used, max) memory; a failing read shows as NaN, not an error. The
   * gauges hold the reader strongly: Micrometer's default weak reference let the first GC after
   * start collect a reader nothing else holds, and the gauges read NaN from then on.
   */
  public static void bind(MeterRegistry registry, String device, Supplier<MemoryUsage> read) {
    Gauge.builder(ProcessMeters.PREFIX + "gpu.memory.used", read, r -> bytes(r, MemoryUsage::getUsed))
        .baseUnit("bytes").tag("device", device).description("GPU memory in use on the device")
        .strongReference(true).register(registry);
    Gauge.builder(ProcessMeters.PREFIX + "gpu.memory.total", read, r -> bytes(r, MemoryUsage::getMax))
        .baseUnit("bytes").tag("device", device).description("GPU memory of the device")
        .strongReference(true).register(registry);
  }

  private static double bytes(Supplier<MemoryUsage> read, java.util.function.ToLongFunction<MemoryUsage> part) {
    try {
      long v = part.applyAsLong(read.get());
      return v < 0 ? Double.NaN : v;
    } catch (RuntimeException e) {
      return Double.NaN;
    }
  }
}
