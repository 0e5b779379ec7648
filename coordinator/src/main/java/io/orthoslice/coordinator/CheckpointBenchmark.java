package io.orthoslice.coordinator;

import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What a checkpoint every round costs the coordinator, without training: a preset's weights written by the real
 * {@link RoundCheckpoints} (temporary directory, fsync, rename, checksums) behind the real
 * {@link BackgroundCheckpointer}, round after round. A round is a fixed amount of single-threaded arithmetic
 * calibrated to {@code roundSeconds} (a stand-in for the training that shares the machine's cores with the
 * writer); rounds are timed with a checkpoint after each and with none. Reported: each write's wall and CPU
 * seconds (on the writer thread), the bytes on disk, how long each save held the round's thread (the hand-over),
 * and how many checkpoints were skipped because the write before was still in flight.
 */
public final class CheckpointBenchmark {

  /**
   * Seconds per round or per write.
   *
   * @param handovers how long each {@link BackgroundCheckpointer#save} held the round's thread
   * @param skipped checkpoints not written because the one before was still being written
   */
  public record Result(long bytes, List<Double> writes, List<Double> writerCpu, List<Double> handovers,
      List<Double> roundsWith, List<Double> roundsWithout, int skipped) {}

  private CheckpointBenchmark() {}

  /** @param dir an empty directory for the checkpoints (the newest one is left there; the caller deletes it) */
  public static Result run(LlamaConfig model, RunConfig config, Path dir, int rounds, double roundSeconds) {
    RunSettings settings = new RunSettings(model, config, "synthetic");
    WeightsSnapshot weights = WeightsSnapshot.initial(model, config.seed());
    RoundCheckpoints store = new RoundCheckpoints(dir, 1, settings, 1, 2);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    List<Double> writes = new ArrayList<>();
    List<Double> cpu = new ArrayList<>();
    Checkpointer timed = (state, result) -> {
      long c0 = threads.getCurrentThreadCpuTime();
      long t0 = System.nanoTime();
      store.save(state, result);
      synchronized (writes) {
        writes.add((System.nanoTime() - t0) / 1e9);
        cpu.add((threads.getCurrentThreadCpuTime() - c0) / 1e9);
      }
    };
    float[] work = new float[1 << 20];
    long passes = calibrate(work, roundSeconds);
    List<Double> without = new ArrayList<>();
    List<Double> with = new ArrayList<>();
    List<Double> handovers = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      long t0 = System.nanoTime();
      busy(work, passes);
      without.add((System.nanoTime() - t0) / 1e9);
    }
    // rounds + 1: no round here is the run's last, whose checkpoint is written on the round's thread.
    int skipped;
    try (BackgroundCheckpointer writer = new BackgroundCheckpointer(timed, rounds + 1L)) {
      for (int r = 0; r < rounds; r++) {
        long t0 = System.nanoTime();
        busy(work, passes);
        long h0 = System.nanoTime();
        writer.save(new ResumeState(r + 1, r, weights, Map.of(), 3.0), result(r));
        long t1 = System.nanoTime();
        handovers.add((t1 - h0) / 1e9);
        with.add((t1 - t0) / 1e9);
      }
      skipped = writer.skipped();
    }
    return new Result(newestBytes(dir), writes, cpu, handovers, with, without, skipped);
  }

  /** Passes over {@code work} that take about {@code seconds} now. */
  private static long calibrate(float[] work, double seconds) {
    long passes = 0;
    long end = System.nanoTime() + Math.round(seconds * 1e9);
    while (System.nanoTime() < end) {
      busy(work, 1);
      passes++;
    }
    return passes;
  }

  @SuppressWarnings("unused") private static volatile float sink;

  private static void busy(float[] work, long passes) {
    float acc = 0;
    for (long p = 0; p < passes; p++) {
      for (int i = 0; i < work.length; i++) {
        work[i] = work[i] * 0.999f + 1e-3f;
        acc += work[i];
      }
    }
    sink = acc; // keeps the loop from being optimised away
  }

  private static RoundResult result(int round) {
    return new RoundResult(round, 1, List.of(0), round + 1, 3.0, 3.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  }

  private static long newestBytes(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      Path newest = s.filter(Files::isDirectory).sorted().reduce((a, b) -> b).orElseThrow();
      try (Stream<Path> files = Files.walk(newest)) {
        return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
