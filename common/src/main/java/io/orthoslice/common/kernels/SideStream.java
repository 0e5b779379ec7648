package io.orthoslice.common.kernels;

import ai.djl.Device;
import java.util.concurrent.ThreadFactory;

/**
 * The coordinator's own CUDA stream. A coordinator that shares a GPU with a training worker in one
 * process (a hosted worker: {@code launch --host-worker}) would otherwise queue every merge and validation
 * kernel behind the worker's step on the default stream, and in two processes the card runs the two
 * CUDA contexts by turns, so each of the coordinator's waits for the device costs a turn (measured on an
 * H100 beside a training loop: 110 small reductions with a host wait each took 190 ms from another
 * process, 31 ms on the same stream of one process, 7 ms on a high-priority stream of its own, 4 ms
 * alone; docs/PERFORMANCE.md). On a high-priority stream of its own the coordinator's kernels run
 * between the worker's, ahead of them.
 *
 * <p>The current stream is per thread, so every coordinator thread that touches the device takes the
 * stream before its first device work ({@link #threads} does so for a thread factory's threads, {@link
 * #adopt} for a pool's task). All of them on one stream keeps the coordinator's work in one order, as
 * on the default stream. Without the native kernels, or on the CPU, nothing changes.
 */
public final class SideStream {

  private SideStream() {}

  /** Puts the calling thread's work on {@code device} onto the side stream (a no-op on the CPU or without the kernels). */
  public static void adopt(Device device) {
    if (device != null && device.isGpu() && Kernels.loaded()) {
      // High priority: normal measured no different on an H100 (docs/PERFORMANCE.md, "One card, two roles").
      NativeKernels.sideStream(device.getDeviceId(), true);
    }
  }

  /** Daemon threads named {@code name} whose work on {@code device} runs on the side stream. */
  public static ThreadFactory threads(String name, Device device) {
    return r -> {
      Thread t = new Thread(() -> {
        adopt(device);
        r.run();
      }, name);
      t.setDaemon(true);
      return t;
    };
  }
}
