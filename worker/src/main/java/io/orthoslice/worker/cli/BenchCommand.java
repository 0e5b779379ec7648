package io.orthoslice.worker.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.util.cuda.CudaUtils;
import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.data.TokenDataset;
import io.orthoslice.common.kernels.Kernels;
import io.orthoslice.common.kernels.NativeKernels;
import io.orthoslice.common.kernels.ProfileSummary;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.data.DatasetWindows;
import io.orthoslice.common.method.MemoryUse;
import io.orthoslice.common.train.ModelInit;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.train.Trainer;
import io.orthoslice.common.train.TrainingLoop;
import io.orthoslice.common.method.TrainingMethods;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code orthoslice bench}: training throughput of a preset on this device. Reports the median over
 * the measured steps after warm-up, so JIT and allocator warm-up do not count.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Measure tokens/s, step time and peak memory of training steps (median after warm-up).")
final class BenchCommand implements Callable<Integer> {

  @Mixin ModelOptions model;
  @Mixin DataOptions data;
  @Mixin OptimizationOptions optim;
  @Mixin MethodOptions method;

  @Option(names = "--warmup-steps", defaultValue = "3", description = "Unmeasured steps first. Default: ${DEFAULT-VALUE}.")
  int warmupSteps;

  @Option(names = "--measure-steps", defaultValue = "10", description = "Measured steps. Default: ${DEFAULT-VALUE}.")
  int measureSteps;

  @Mixin DeviceOptions where;

  @Option(names = "--peak-tflops", paramLabel = "T",
      description = "The device's peak dense TFLOP/s for the compute dtype (H200: 989 for fp16); with it, bench prints"
          + " the model FLOPs utilisation 6 (N - N_embedding) tokens/s / peak, PaLM's MFU without attention.")
  Double peakTflops;

  @Option(names = "--recompute-activations", description = "Activation checkpointing (see train --help).")
  boolean recompute;

  @Option(names = "--profile", paramLabel = "FILE",
      description = "After the measured steps, run --profile-steps more under torch's profiler and write its Chrome"
          + " trace to FILE (open in Perfetto); prints the largest GPU kernels and host ops per step. Needs the"
          + " native kernels library (--kernels native or auto with it installed).")
  Path profile;

  @Option(names = "--profile-steps", defaultValue = "3", description = "Steps under the profiler. Default: ${DEFAULT-VALUE}.")
  int profileSteps;

  @Override
  public Integer call() throws IOException {
    String device = where.apply();
    if (warmupSteps < 0 || measureSteps < 1) {
      throw new IllegalArgumentException("warmup-steps must be >= 0 and measure-steps >= 1");
    }
    if (profile != null && profileSteps < 1) {
      throw new IllegalArgumentException("--profile-steps must be >= 1, got " + profileSteps);
    }
    if (profile != null && !Kernels.loaded()) {
      throw new IllegalArgumentException("--profile needs the native kernels library (" + Kernels.describe()
          + " is running): build it with common/src/main/cpp/build.sh and run with --kernels native");
    }
    if (peakTflops != null && !(peakTflops > 0)) {
      throw new IllegalArgumentException("--peak-tflops must be > 0, got " + peakTflops);
    }
    TrainConfig cfg = optim.toConfig(method.toSpec()).withSteps(warmupSteps + measureSteps + (profile != null ? profileSteps : 0), 1);
    try (TokenDataset ds = data.open()) {
      LlamaConfig shape = model.resolve(ds.manifest().vocabSize(), cfg.seqLen());
      DatasetWindows windows = new DatasetWindows(ds, cfg.seqLen(), cfg.seed());
      Device dev = DeviceSpec.parse(device); // the check makes the CUDA context: it is in the baseline
      long baseline = deviceUsed(dev);
      long peak = baseline;
      NDManager root = NDManager.newBaseManager(dev);
      try (Trainer trainer = new Trainer(shape, cfg, root, TrainingMethods.build(shape, cfg,
          ModelInit.initialize(shape, cfg.seed(), root, cfg.precision().master()), root))
          .recomputeActivations(recompute)) {
        int perStep = cfg.microBatch() * cfg.gradAccum();
        double[] seconds = new double[measureSteps];
        long[] peakSeen = {peak};
        // A step's time ends with its one read of the device (its loss and norm); the batch read is outside it.
        TrainingLoop.run(trainer, windows, 0, perStep, warmupSteps + measureSteps, (i, s, t) -> {
          if (i >= warmupSteps) {
            seconds[i - warmupSteps] = t;
          }
          // Torch's caching allocator keeps what it reserved, so the use after a step is its peak.
          peakSeen[0] = Math.max(peakSeen[0], deviceUsed(dev));
        });
        peak = peakSeen[0];
        Arrays.sort(seconds);
        double median = seconds[measureSteps / 2];
        MemoryUse mem = trainer.memory();
        System.out.printf(Locale.ROOT,
            "bench preset=%s params=%,d method=%s device=%s dtype=%s kernels=%s batch=%dx%dx%d%n"
                + "step_time_median_s=%.4f (min %.4f, max %.4f over %d steps) tokens_per_s=%.0f%n"
                + "live_bytes weights=%d gradients=%d optimizer=%d projections=%d peak_rss_bytes=%d%n"
                + "device_used_peak_bytes=%d device_trainer_peak_bytes=%d%n",
            model.modelConfig != null ? model.modelConfig : model.preset, shape.parameterCount(),
            cfg.method().method().name().toLowerCase(Locale.ROOT), device, cfg.precision(),
            Kernels.describe(), cfg.gradAccum(),
            cfg.microBatch(), cfg.seqLen(), median, seconds[0], seconds[measureSteps - 1], measureSteps,
            cfg.tokensPerStep() / median, mem.weightBytes(), mem.gradientBytes(), mem.optimizerBytes(),
            mem.projectionBytes(), peakRss(), peak, peak - baseline);
        if (peakTflops != null) {
          long nonEmbedding = shape.parameterCount() - (long) shape.vocabSize() * shape.hiddenSize();
          System.out.printf(Locale.ROOT, "mfu=%.4f (peak %.0f TFLOP/s)%n",
              6.0 * nonEmbedding * cfg.tokensPerStep() / median / (peakTflops * 1e12), peakTflops);
        }
        if (profile != null) { // after the measured steps: the profiler's own cost is not in their times
          NativeKernels.startProfile();
          long t0 = System.nanoTime();
          try {
            TrainingLoop.run(trainer, windows, (long) (warmupSteps + measureSteps) * perStep, perStep, profileSteps,
                (i, s, t) -> { });
          } finally {
            double wall = (System.nanoTime() - t0) / 1e9 / profileSteps;
            ProfileSummary summary = ProfileSummary.parse(NativeKernels.stopProfile(profile.toString()), profileSteps);
            System.out.printf(Locale.ROOT, "profiled step wall %.4f s (trace %s)%n%s", wall, profile,
                summary.format(25));
          }
        }
      }
    }
    return 0;
  }

  /**
   * Bytes in use on a GPU (the whole device, CUDA's {@code cudaMemGetInfo}: this process's context and
   * torch's reserved memory, and any other process there); 0 on the CPU.
   */
  static long deviceUsed(Device dev) {
    return dev.isGpu() ? CudaUtils.getGpuMemory(dev).getUsed() : 0;
  }

  /** Peak resident set size of this process (Linux VmHWM), 0 where unavailable. */
  static long peakRss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }
}
