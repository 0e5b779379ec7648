package io.orthoslice.coordinator.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.coordinator.MergeBenchmark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code orthoslice coordinator bench-merge}: the coordinator's merge and a worker's apply of the broadcast, on
 * synthetic updates of a preset's shapes, for K workers each (docs/PERFORMANCE.md's merge table).
 */
@Command(name = "bench-merge", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Time the coordinator's merge of K synthetic updates and a worker's apply of its broadcast"
        + " (checked bit for bit against the coordinator's checksum); no training, no data.")
final class BenchMergeCommand implements Callable<Integer> {

  @Option(names = "--preset", split = ",", defaultValue = "20m", description = "Model presets, comma separated."
      + " Default: ${DEFAULT-VALUE}.")
  List<String> presets;

  @Option(names = "--workers", split = ",", defaultValue = "2,4,8", description = "Worker counts K, comma separated."
      + " Default: ${DEFAULT-VALUE}.")
  List<Integer> workers;

  @Option(names = "--rank", defaultValue = "0", description = "Rank per worker; 0 gives K r = d / 2 (d the hidden"
      + " size). Default: ${DEFAULT-VALUE}.")
  int rank;

  @Option(names = "--wire", defaultValue = "f32", description = "f32, f16 or int8. Default: ${DEFAULT-VALUE}.")
  String wire;

  @Option(names = "--vocab", defaultValue = "32000", description = "Vocabulary size. Default: ${DEFAULT-VALUE}.")
  int vocab;

  @Option(names = "--device", defaultValue = "cpu", description = "The coordinator's merge device: cpu, gpu or gpu:N."
      + " Default: ${DEFAULT-VALUE}.")
  String device;

  @Option(names = "--apply-device", defaultValue = "cpu", description = "The worker's replica device. Default:"
      + " ${DEFAULT-VALUE}.")
  String applyDevice;

  @Option(names = "--repeats", defaultValue = "3", description = "Merges per cell (the median is reported). Default:"
      + " ${DEFAULT-VALUE}.")
  int repeats;

  @Option(names = "--jsonl", paramLabel = "FILE", description = "Append one JSON line per cell.")
  Path jsonl;

  @picocli.CommandLine.Mixin io.orthoslice.common.cli.KernelOptions kernels;

  /** Bytes as GiB and as a multiple of the fp32 weights, or "n/a" when not measured (negative). */
  private static String timesWeights(long bytes, long weights) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f GiB = %.2fx", bytes / 1073741824.0,
        bytes / (double) weights);
  }

  @Override
  public Integer call() throws IOException {
    if (repeats < 1) {
      throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
    }
    kernels.apply(DeviceSpec.namesGpu(device) ? device : applyDevice); // a GPU if either side is on one
    Device merge = DeviceSpec.parse(device);
    Device apply = DeviceSpec.parse(applyDevice);
    ObjectMapper json = new ObjectMapper();
    for (String preset : presets) {
      for (int k : workers) {
        LlamaConfig shape = LlamaConfig.preset(preset).withVocabSize(vocab);
        int r = rank > 0 ? rank : Math.max(1, shape.hiddenSize() / (2 * k));
        RunConfig cfg = RunConfig.DEFAULTS.with(Map.of("preset", preset, "workers", k, "rank", r, "wire", wire));
        MergeBenchmark.Result res = MergeBenchmark.run(shape, cfg, merge, apply, repeats);
        System.out.printf(Locale.ROOT, "bench-merge %s K=%d r=%d wire=%s merge[%s] %.3f s (%s), host copy %.3f s (%s),"
                + " apply[%s] %.3f s (%s), heap retained %.2f GiB less the updates %.2f GiB = %.2fx the fp32"
                + " weights (%.2f GiB), device %s, broadcast %.1f MiB, replica %s; last merge: %s%n",
            preset, k, r, wire, device, res.mergeSeconds(), seconds(res.merges()), res.mirrorSeconds(),
            seconds(res.mirrors()), applyDevice, res.applySeconds(), seconds(res.applies()),
            res.retainedBytes() / 1073741824.0, res.updateBytes() / 1073741824.0,
            (res.retainedBytes() - res.updateBytes()) / (double) res.weightsBytes(), res.weightsBytes() / 1073741824.0,
            timesWeights(res.deviceBytes(), res.weightsBytes()), res.broadcastBytes() / 1048576.0,
            res.replicaMatched() ? "bit-identical" : "DIFFERS", res.phases());
        if (jsonl != null) {
          Map<String, Object> line = new LinkedHashMap<>();
          line.put("preset", preset);
          line.put("workers", k);
          line.put("rank", r);
          line.put("wire", wire);
          line.put("merge_device", device);
          line.put("apply_device", applyDevice);
          line.put("merge_seconds", res.merges());
          line.put("apply_seconds", res.applies());
          line.put("host_copy_seconds", res.mirrors());
          line.put("device_bytes", res.deviceBytes());
          line.put("retained_heap_bytes", res.retainedBytes());
          line.put("update_bytes", res.updateBytes());
          line.put("weights_bytes", res.weightsBytes());
          line.put("broadcast_bytes", res.broadcastBytes());
          line.put("replica_bit_identical", res.replicaMatched());
          line.put("last_merge_phases", res.phases());
          Files.writeString(jsonl, json.writeValueAsString(line) + "\n", StandardOpenOption.CREATE,
              StandardOpenOption.APPEND);
        }
        if (!res.replicaMatched()) {
          return 1;
        }
      }
    }
    return 0;
  }

  private static String seconds(List<Double> xs) {
    return String.join(" / ", xs.stream().map(x -> String.format(Locale.ROOT, "%.3f", x)).toList());
  }
}
