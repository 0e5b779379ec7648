package io.orthoslice.coordinator;

import ai.djl.Device;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.round.ReplicaWeights;
import io.orthoslice.common.round.WeightsChecksum;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.wire.TensorEncoding;
import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.wire.WireTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The round's host work without training: K synthetic updates of the run's shapes (factors and dense
 * changes of the size a trained round gives, in the run's wire precision) merged by the coordinator's
 * own {@link RoundMerger} on a chosen device, then the broadcast applied to a worker's
 * {@link ReplicaWeights} on another, checked bit for bit against the coordinator's checksum. Times
 * both, and samples the coordinator's heap during the merge.
 */
public final class MergeBenchmark {

  /**
   * One measurement: medians over the repeats, seconds. {@code mirrorSeconds} is the host copy of the
   * merged weights, which the coordinator makes after the next round has opened (off the round's path).
   * {@code retainedBytes} is the heap still live (after a full collection, less what was live before
   * the benchmark) when a merge has finished and its host copy is made: the weights before and after
   * and the encoded broadcast, beside the K updates received ({@code updateBytes} of them).
   * {@code deviceBytes} is what the merge device holds beyond its state before the benchmark, on a
   * GPU (the weights, the outer optimizer's and the broadcast's buffers, and torch's cached
   * temporaries; -1 on the CPU).
   */
  public record Result(double mergeSeconds, List<Double> merges, double applySeconds, List<Double> applies,
      double mirrorSeconds, List<Double> mirrors, long retainedBytes, long updateBytes, long weightsBytes,
      long broadcastBytes, long deviceBytes, boolean replicaMatched, String phases) {}

  private MergeBenchmark() {}

  /**
   * @param config the run (mode, workers = K, rank, wire); its seed draws the weights and the updates
   * @param mergeDevice the coordinator's --device
   * @param applyDevice where the worker's replica lives
   */
  public static Result run(LlamaConfig model, RunConfig config, Device mergeDevice, Device applyDevice, int repeats) {
    long baseline = liveHeap();
    long deviceBefore = deviceUsed(mergeDevice);
    RunSettings settings = new RunSettings(model, config, "synthetic");
    WeightsSnapshot start = WeightsSnapshot.initial(model, config.seed());
    int k = config.workers();
    RoundPlan plan = RoundPlan.of(model, config.roundMode(), config.seed(), 0, k, config.rank());
    plan.narrowAll(); // as the coordinator's planner does in the background, a round ahead
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      ids.add("w" + i);
    }
    List<Submission> subs = syntheticUpdates(model, config, start, config.seed() + 1);
    RoundEvaluation evaluation = new RoundEvaluation(settings, ValidationLoss.NONE);
    List<Double> merges = new ArrayList<>();
    List<Double> applies = new ArrayList<>();
    List<Double> mirrors = new ArrayList<>();
    long retained = 0;
    long broadcastBytes = 0;
    long device = -1;
    boolean matched = true;
    String phases = "";
    try (RoundMerger merger = new RoundMerger(settings, Map.of(), mergeDevice);
        ReplicaWeights replica = new ReplicaWeights(model, applyDevice)) {
      for (int r = 0; r < repeats; r++) {
        Broadcasts broadcasts = new Broadcasts(settings, start);
        OpenRound round = new OpenRound(0, plan, ids, 0);
        long t0 = System.nanoTime();
        RoundMerger.Outcome o = merger.close(round, subs, broadcasts, evaluation);
        merges.add((System.nanoTime() - t0) / 1e9);
        phases = merger.lastPhases().toString();
        long t1 = System.nanoTime();
        o.after().materialize();
        mirrors.add((System.nanoTime() - t1) / 1e9);
        if (r == 0) { // before the replica (on the same card with --apply-device gpu) holds anything there
          device = deviceUsed(mergeDevice) - deviceBefore; // torch's cache: the merge's peak, less fragments freed
        }
        retained = Math.max(retained, liveHeap() - baseline);
        broadcastBytes = o.delta().bytes();
        Map<String, WireTensor> startTensors = new LinkedHashMap<>();
        for (ParameterSpec p : model.parameters()) {
          startTensors.put(p.name(), WireTensor.ofFloats(p.name(), start.values().get(p.name()), p.shape()));
        }
        replica.load(0, startTensors);
        long t2 = System.nanoTime();
        matched &= replica.apply(o.delta());
        applies.add((System.nanoTime() - t2) / 1e9);
        matched &= replica.checksum() == WeightsChecksum.of(model, o.after().values());
      }
    }
    return new Result(median(merges), merges, median(applies), applies, median(mirrors), mirrors, retained,
        subs.stream().mapToLong(Submission::bytes).sum(), start.bytes(), broadcastBytes,
        mergeDevice.isGpu() ? device : -1, matched, phases);
  }

  /** Bytes in use on a GPU (every process's, as the driver counts them), -1 on the CPU. */
  private static long deviceUsed(Device d) {
    return d.isGpu() ? ai.djl.util.cuda.CudaUtils.getGpuMemory(d).getUsed() : -1;
  }

  /**
   * K updates of round 0 as workers would send them in {@code config}'s wire: every tensor a small
   * random change (dense values around {@code start}'s on the f32 wire, which sends values), drawn
   * from {@code seed}.
   */
  static List<Submission> syntheticUpdates(LlamaConfig model, RunConfig config, WeightsSnapshot start, long seed) {
    List<Submission> subs = new ArrayList<>();
    PortableRandom rng = new PortableRandom(seed);
    Map<String, long[]> shapes = RoundMerge.expectedShapes(model, config.roundMode(), config.rank());
    for (int slot = 0; slot < config.workers(); slot++) {
      Map<String, WireTensor> tensors = new LinkedHashMap<>();
      for (Map.Entry<String, long[]> e : shapes.entrySet()) {
        float[] v = new float[Math.toIntExact(Arrays.stream(e.getValue()).reduce(1, Math::multiplyExact))];
        float[] base = start.values().get(e.getKey());
        boolean value = base != null && !config.rules().denseChanges(); // else dense values travel
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) (1e-3 * (2 * rng.nextDouble() - 1)) + (value ? base[i] : 0f);
        }
        TensorEncoding.encode(e.getKey(), v, e.getValue(), config.rules().wire(), config.rules().density())
            .forEach(t -> tensors.put(t.name(), t));
      }
      subs.add(new Submission(new UpdateReport("w" + slot, "key", 0, slot, 0, 3.0, 1, 0, 0, 0, 0), tensors));
    }
    return subs;
  }

  /** Heap in use after a full collection. */
  private static long liveHeap() {
    java.lang.management.MemoryMXBean mx = java.lang.management.ManagementFactory.getMemoryMXBean();
    mx.gc();
    return mx.getHeapMemoryUsage().getUsed();
  }

  private static double median(List<Double> xs) {
    double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
