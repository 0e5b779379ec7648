package io.orthoslice.coordinator.cli;

import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.coordinator.CheckpointBenchmark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code orthoslice coordinator bench-checkpoint}: what a checkpoint every round costs, at a preset's size, with the
 * coordinator's own checkpoint code and no training (docs/RELIABILITY.md's checkpoint figures).
 */
@Command(name = "bench-checkpoint", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Time the coordinator's background checkpoint of a preset's weights (written, fsynced, renamed,"
        + " checksummed) against rounds of fixed single-threaded work, with a checkpoint after every round and"
        + " with none; no training, no data. Deletes what it writes.")
final class BenchCheckpointCommand implements Callable<Integer> {

  @Option(names = "--preset", split = ",", defaultValue = "130m", description = "Model presets, comma separated."
      + " Default: ${DEFAULT-VALUE}.")
  List<String> presets;

  @Option(names = "--vocab", defaultValue = "32000", description = "Vocabulary size. Default: ${DEFAULT-VALUE}.")
  int vocab;

  @Option(names = "--rounds", defaultValue = "3", description = "Rounds with and rounds without checkpoints."
      + " Default: ${DEFAULT-VALUE}.")
  int rounds;

  @Option(names = "--round-seconds", defaultValue = "10", description = "A round's work, calibrated to take this long"
      + " on one core with no checkpoint in flight. Default: ${DEFAULT-VALUE}.")
  double roundSeconds;

  @Option(names = "--dir", paramLabel = "DIR", description = "Where to write (a new directory under it, deleted"
      + " afterwards). Default: the system's temporary directory.")
  Path dir;

  @Override
  public Integer call() throws IOException {
    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds must be >= 1, got " + rounds);
    }
    if (!(roundSeconds > 0)) {
      throw new IllegalArgumentException("--round-seconds must be > 0, got " + roundSeconds);
    }
    Path parent = dir != null ? dir : Path.of(System.getProperty("java.io.tmpdir"));
    if (!Files.isDirectory(parent)) {
      throw new IllegalArgumentException("--dir " + parent + " is not a directory");
    }
    for (String preset : presets) {
      LlamaConfig model = LlamaConfig.preset(preset).withVocabSize(vocab);
      Path out = Files.createTempDirectory(parent, "bench-checkpoint-");
      try {
        CheckpointBenchmark.Result r = CheckpointBenchmark.run(model, RunConfig.DEFAULTS.with(Map.of("preset", preset)),
            out, rounds, roundSeconds);
        System.out.printf(Locale.ROOT, "bench-checkpoint %s: %.2f GiB on disk; write %s s (writer CPU %s s); round"
                + " without %s s, with a checkpoint due each %s s, of which the save held the round's thread %s s;"
                + " %d of %d skipped (the write before still in flight)%n",
            preset, r.bytes() / 1073741824.0, seconds(r.writes()), seconds(r.writerCpu()), seconds(r.roundsWithout()),
            seconds(r.roundsWith()), seconds(r.handovers()), r.skipped(), rounds);
      } finally {
        try (Stream<Path> s = Files.walk(out)) {
          for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      }
    }
    return 0;
  }

  private static String seconds(List<Double> xs) {
    return String.join(" / ", xs.stream().map(x -> String.format(Locale.ROOT, "%.2f", x)).toList());
  }
}
