package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.RoundMode;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.projection.Side;
import io.orthoslice.common.train.Precision;
import io.orthoslice.common.train.TrainConfig;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.proto.JoinRequest;
import io.orthoslice.proto.RoundAssignment;
import io.orthoslice.proto.RoundUpdatePart;
import io.orthoslice.proto.FetchRoundUpdateRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Rounds through the real service and interceptor on an in-process transport, with scripted workers. */
class CoordinatorRoundTest {

  static final LlamaConfig MODEL = new LlamaConfig(16, 16, 32, 1, 2, 2, 32, 1e-6, 10000.0, false, 0.02);
  static final String TOKEN = "s3cret";
  static final int RANK = 4;

  private final List<AutoCloseable> open = new ArrayList<>();
  private final BlockingQueue<RoundResult> merged = new LinkedBlockingQueue<>();
  private Coordinator core;
  private ManagedChannel channel;

  @AfterEach
  void closeAll() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private void start(int workers, Duration roundTimeout) throws Exception {
    TrainConfig train = new TrainConfig(8, 2, 1, 3 * 2, 1, 1e-3, 1e-4, 0.9, 0.95, 1e-8, 0.0, 1.0, 7, Precision.FP32,
        RunSettings.workerMethod(RoundMode.ORTHOGONAL, RANK, 1.0));
    RunSettings s = new RunSettings(MODEL, train, RoundMode.ORTHOGONAL, RANK, 2, 3, workers, 1, roundTimeout,
        Duration.ofSeconds(60), "test-data", 1.0, 0.0, 0, 1);
    core = new Coordinator(s, ResumeState.fresh(CoordinatorMain.initialWeights(MODEL, 7)), ValidationLoss.NONE,
        merged::add, (st, r) -> {});
    open.add(core);
    String name = InProcessServerBuilder.generateName();
    open.add(new CoordinatorServer(InProcessServerBuilder.forName(name),
        new CoordinatorService(core, CoordinatorService.runSpec(s, "run", 1, 2), Duration.ofSeconds(5)), TOKEN));
    channel = InProcessChannelBuilder.forName(name).build();
    core.start();
  }

  private static Map<String, WireTensor> update(int rank, Random rng) {
    Map<String, WireTensor> t = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : RoundMerge.expectedShapes(MODEL, RoundMode.ORTHOGONAL, rank).entrySet()) {
      long[] shape = e.getValue();
      float[] v = new float[(int) (shape[0] * (shape.length > 1 ? shape[1] : 1))];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) rng.nextGaussian();
      }
      t.put(e.getKey(), WireTensor.ofFloats(e.getKey(), v, shape));
    }
    return t;
  }

  @Test
  void wholeRoundWithThreeWorkersMergesEverySliceIntoBasePlusSumOfSlices() throws Exception {
    start(3, Duration.ofSeconds(60));
    List<TestWorker> ws = new ArrayList<>();
    for (int k = 0; k < 3; k++) {
      TestWorker w = new TestWorker(channel, TOKEN);
      w.join("w" + k);
      ws.add(w);
    }
    Map<String, float[]> base = ws.get(0).fetchWeights(0);
    Random rng = new Random(11);
    List<RoundAssignment> as = new ArrayList<>();
    List<Map<String, WireTensor>> sent = new ArrayList<>();
    for (TestWorker w : ws) {
      RoundAssignment a = w.awaitRound(0);
      as.add(a);
      sent.add(update(RANK, rng));
    }
    for (int k = 0; k < 3; k++) {
      ws.get(k).submit(as.get(k), sent.get(k)).get(10, TimeUnit.SECONDS);
    }
    RoundResult r = merged.poll(30, TimeUnit.SECONDS);
    assertEquals(List.of(0, 1, 2), r.mergedSlots());
    assertEquals(1, r.version());

    RoundPlan plan = RoundPlan.of(MODEL, RoundMode.ORTHOGONAL, 7, 0, 3, RANK);
    Map<String, float[]> after = ws.get(0).fetchWeights(1);
    for (ParameterSpec p : MODEL.parameters()) {
      double[] expected = new double[(int) p.numel()];
      float[] w0 = base.get(p.name());
      for (int i = 0; i < expected.length; i++) {
        expected[i] = w0[i];
      }
      for (int k = 0; k < 3; k++) {
        int slot = as.get(k).getSlot();
        if (p.role() == ParameterSpec.Role.PROJECTED) {
          addLift(expected, p, sent.get(k).get(RoundMerge.factorName(p.name())).toFloats(), plan.slice(p, slot));
        } else {
          float[] v = sent.get(k).get(p.name()).toFloats();
          for (int i = 0; i < expected.length; i++) {
            expected[i] += (v[i] - w0[i]) / 3.0;
          }
        }
      }
      float[] got = after.get(p.name());
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], got[i], 1e-4 * (1 + Math.abs(expected[i])), p.name() + "[" + i + "]");
      }
    }
    // The factored update is smaller than the weights and names every merged slot.
    Iterator<RoundUpdatePart> u = ws.get(0).blocking.withDeadlineAfter(10, TimeUnit.SECONDS)
        .fetchRoundUpdate(FetchRoundUpdateRequest.newBuilder().setWorkerId(ws.get(0).id).setFromVersion(0).build());
    assertEquals(List.of(0, 1, 2), u.next().getHeader().getMergedSlotsList());
    assertTrue(r.factoredBroadcastBytes() > 0 && r.factoredBroadcastBytes() < r.fullBroadcastBytes(),
        r.factoredBroadcastBytes() + " vs " + r.fullBroadcastBytes());
  }

  /** expected += lift(A, P) with P (d x r) in float64: A P^T (RIGHT, A m x r) or P B (LEFT, B r x n). */
  private static void addLift(double[] expected, ParameterSpec p, float[] a, double[] proj) {
    int m = p.rows();
    int n = p.cols();
    boolean right = RoundPlan.side(p) == Side.RIGHT;
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int q = 0; q < RANK; q++) {
          s += right ? a[i * RANK + q] * proj[j * RANK + q] : proj[i * RANK + q] * a[q * n + j];
        }
        expected[i * n + j] += s;
      }
    }
  }

  @Test
  void workerThatMissesTheDeadlineIsLeftOutRefusedAndJoinsTheNextRound() throws Exception {
    start(3, Duration.ofMillis(1500));
    List<TestWorker> ws = new ArrayList<>();
    for (int k = 0; k < 3; k++) {
      TestWorker w = new TestWorker(channel, TOKEN);
      w.join("w" + k);
      ws.add(w);
    }
    Random rng = new Random(2);
    RoundAssignment late = ws.get(2).awaitRound(0);
    for (int k = 0; k < 2; k++) {
      ws.get(k).submit(ws.get(k).awaitRound(0), update(RANK, rng)).get(10, TimeUnit.SECONDS);
    }
    RoundResult r = merged.poll(30, TimeUnit.SECONDS);
    assertEquals(2, r.mergedSlots().size());
    assertFalse(r.mergedSlots().contains(late.getSlot()));

    ExecutionException e = assertThrows(ExecutionException.class,
        () -> ws.get(2).submit(late, update(RANK, rng)).get(10, TimeUnit.SECONDS));
    assertEquals(Status.Code.FAILED_PRECONDITION, ((StatusRuntimeException) e.getCause()).getStatus().getCode());

    RoundAssignment next = ws.get(2).awaitRound(1);
    assertEquals(1, next.getRound());
    assertEquals(3, next.getParticipants());
    assertEquals(1, next.getWeightsVersion());
  }

  @Test
  void wrongOrMissingTokenIsUnauthenticated() throws Exception {
    start(1, Duration.ofSeconds(60));
    for (String token : new String[] {"wrong", null}) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> new TestWorker(channel, token)
          .blocking.withDeadlineAfter(5, TimeUnit.SECONDS)
          .join(JoinRequest.newBuilder().setWorkerName("x").setProtocolVersion(1).build()));
      assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    }
  }

  @Test
  void misShapedUpdateIsInvalidArgumentAndNothingOfItIsMerged() throws Exception {
    start(1, Duration.ofSeconds(60));
    TestWorker w = new TestWorker(channel, TOKEN);
    w.join("only");
    RoundAssignment a = w.awaitRound(0);
    Map<String, WireTensor> wrongRank = update(RANK + 1, new Random(3));
    ExecutionException e = assertThrows(ExecutionException.class, () -> w.submit(a, wrongRank).get(10, TimeUnit.SECONDS));
    StatusRuntimeException s = (StatusRuntimeException) e.getCause();
    assertEquals(Status.Code.INVALID_ARGUMENT, s.getStatus().getCode());
    assertTrue(s.getStatus().getDescription().contains("expected [16, 4]"), s.getStatus().getDescription());
    assertEquals(0, core.currentWeights().version());
    assertTrue(core.history().isEmpty());
    // The round is still open and takes a well-formed update from the same slot.
    w.submit(a, update(RANK, new Random(4))).get(10, TimeUnit.SECONDS);
    assertEquals(List.of(0), merged.poll(30, TimeUnit.SECONDS).mergedSlots());
  }
}
