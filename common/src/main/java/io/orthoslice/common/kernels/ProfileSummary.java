package io.orthoslice.common.kernels;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * What torch's profiler saw over some training steps, per event name: GPU kernels (and copies,
 * memsets) by device time, host ops by their inclusive time. Parsed from the native library's
 * {@code cpu|gpu TAB count TAB total-us TAB name} lines ({@link NativeKernels#stopProfile}).
 */
public record ProfileSummary(List<Row> gpu, List<Row> cpu, int steps) {

  /** One event name: how often it ran and its total time over all profiled steps. */
  public record Row(String name, long count, long totalMicros) {}

  public ProfileSummary {
    gpu = sorted(gpu);
    cpu = sorted(cpu);
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be >= 1, got " + steps);
    }
  }

  /** Parses the library's lines; a line that does not have four tab-separated fields is an error. */
  public static ProfileSummary parse(String lines, int steps) {
    List<Row> gpu = new ArrayList<>();
    List<Row> cpu = new ArrayList<>();
    for (String line : lines.split("\n")) {
      if (line.isEmpty()) {
        continue;
      }
      String[] f = line.split("\t", 4);
      if (f.length != 4 || !(f[0].equals("gpu") || f[0].equals("cpu"))) {
        throw new IllegalArgumentException("profile line '" + line + "': expected cpu|gpu, count, us, name");
      }
      Row row = new Row(f[3], Long.parseLong(f[1]), Long.parseLong(f[2]));
      (f[0].equals("gpu") ? gpu : cpu).add(row);
    }
    return new ProfileSummary(gpu, cpu, steps);
  }

  /** Summed device time of all GPU events per step, in seconds (kernels of one stream do not overlap). */
  public double gpuSecondsPerStep() {
    return gpu.stream().mapToLong(Row::totalMicros).sum() / 1e6 / steps;
  }

  /** GPU launches (kernels, copies, memsets) per step. */
  public double gpuEventsPerStep() {
    return gpu.stream().mapToLong(Row::count).sum() / (double) steps;
  }

  /**
   * A table of the {@code top} largest GPU events and host ops, per step: calls, milliseconds and
   * share of the GPU's busy time (host times are inclusive of the ops they call).
   */
  public String format(int top) {
    StringBuilder b = new StringBuilder();
    double busy = gpu.stream().mapToLong(Row::totalMicros).sum();
    b.append(String.format(Locale.ROOT, "profile over %d steps: gpu busy %.4f s/step, %.0f gpu events/step%n",
        steps, gpuSecondsPerStep(), gpuEventsPerStep()));
    b.append("gpu  calls/step  ms/step  share  kernel\n");
    for (Row r : gpu.subList(0, Math.min(top, gpu.size()))) {
      b.append(String.format(Locale.ROOT, "gpu  %10.1f  %7.3f  %4.1f%%  %s%n", r.count() / (double) steps,
          r.totalMicros() / 1e3 / steps, busy > 0 ? 100.0 * r.totalMicros() / busy : 0.0, shorten(r.name())));
    }
    b.append("cpu  calls/step  ms/step (inclusive)  op\n");
    for (Row r : cpu.subList(0, Math.min(top, cpu.size()))) {
      b.append(String.format(Locale.ROOT, "cpu  %10.1f  %7.3f  %s%n", r.count() / (double) steps,
          r.totalMicros() / 1e3 / steps, shorten(r.name())));
    }
    return b.toString();
  }

  private static String shorten(String name) {
    return name.length() <= 110 ? name : name.substring(0, 107) + "...";
  }

  private static List<Row> sorted(List<Row> rows) {
    List<Row> out = new ArrayList<>(rows);
    out.sort(Comparator.comparingLong(Row::totalMicros).reversed().thenComparing(Row::name));
    return List.copyOf(out);
  }
}
