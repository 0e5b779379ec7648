package io.orthoslice.coordinator;

import io.orthoslice.coordinator.grpc.CoordinatorServer;
import io.orthoslice.coordinator.grpc.CoordinatorService;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.projection.Side;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.config.TrainConfig;
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
import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orthoslice.common.wire.TensorCodec;
import io.orthoslice.common.wire.WireDType;
import io.orthoslice.proto.TensorChunk;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Rounds through the real service and interceptor on an in-process transport, with scripted workers. */
class CoordinatorRoundTest {

  static final LlamaConfig MODEL = new LlamaConfig(16, 16, 32, 1, 2, 2, 32, 1e-6, 10000.0, false, 0.02);
  static final String TOKEN = "s3cret";
  static final int RANK = 4;

  private final List<AutoCloseable> open = new ArrayList<>();
  private final BlockingQueue<RoundResult> merged = new LinkedBlockingQueue<>();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private Coordinator core;
  private ManagedChannel channel;
  private ValidationLoss validation = ValidationLoss.NONE;

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
    start(workers, 1, roundTimeout, Duration.ofSeconds(60));
  }

  private void start(int workers, int minWorkers, Duration roundTimeout, Duration heartbeatTimeout)
      throws Exception {
    // The orthogonal sum (not the default mean): the whole-round test checks base + sum of the slices.
    RunSettings s = new RunSettings(MODEL, RunConfig.DEFAULTS.with(Map.of("seq_len", 8, "batch_size", 2, "warmup", 1,
        "lr", 1e-3, "min_lr", 1e-4, "seed", 7, "rank", RANK, "local_steps", 2, "rounds", 3, "workers", workers))
        .with(Map.of("min_workers", minWorkers, "eval_batches", 1, "merge", "sum",
            "round_timeout", roundTimeout.toMillis() / 1000.0, "heartbeat_timeout", heartbeatTimeout.toMillis() / 1000.0)),
        "test-data");
    core = new Coordinator(s, ResumeState.fresh(WeightsSnapshot.initial(MODEL, 7)), validation,
        merged::add, (st, r) -> {}, new CoordinatorMetrics(registry));
    open.add(core);
    String name = InProcessServerBuilder.generateName();
    open.add(new CoordinatorServer(InProcessServerBuilder.forName(name),
        new CoordinatorService(core, CoordinatorService.runSpec(s, "run", 1, 2), Duration.ofSeconds(5)), TOKEN));
    channel = InProcessChannelBuilder.forName(name).build();
    core.start();
  }

  /** {@code n} scripted workers that have joined, named w0, w1, ... */
  private List<TestWorker> joined(int n) {
    List<TestWorker> ws = new ArrayList<>();
    for (int k = 0; k < n; k++) {
      TestWorker w = new TestWorker(channel, TOKEN);
      w.join("w" + k);
      ws.add(w);
    }
    return ws;
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
    List<TestWorker> ws = joined(3);
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
    // The round update: version 0 plus its changes, one float32 addition per value, is exactly what
    // a stale worker fetches, and its checksum says so.
    Iterator<RoundUpdatePart> u = ws.get(0).blocking.withDeadlineAfter(10, TimeUnit.SECONDS)
        .fetchRoundUpdate(FetchRoundUpdateRequest.newBuilder().setWorkerId(ws.get(0).id).setFromVersion(0).build());
    io.orthoslice.proto.RoundUpdateHeader h = u.next().getHeader();
    assertEquals(List.of(0L, 1L), List.of(h.getFromVersion(), h.getToVersion()));
    io.orthoslice.common.wire.TensorAssembler assembler = new io.orthoslice.common.wire.TensorAssembler();
    Map<String, float[]> changes = new java.util.HashMap<>();
    u.forEachRemaining(part -> assembler.accept(part.getTensor()).ifPresent(t -> changes.put(t.name(), t.toFloats())));
    assembler.finish();
    Map<String, float[]> rebuilt = io.orthoslice.common.round.DeltaBroadcast.apply(MODEL, base, changes);
    for (ParameterSpec p : MODEL.parameters()) {
      assertArrayEquals(after.get(p.name()), rebuilt.get(p.name()), p.name());
    }
    assertEquals(io.orthoslice.common.round.WeightsChecksum.of(MODEL, after), h.getWeightsChecksum());
    assertEquals(r.fullBroadcastBytes(), r.updateBroadcastBytes(), "the f32 wire's update is as large as the weights");
  }

  /**
   * An Error inside the merge (out of memory, as a 50k vocabulary under a 1 GiB heap gave) stops the
   * run with a line saying so; before, it vanished in the driver's executor and the run hung forever.
   */
  @Test
  void outOfMemoryInTheMergeStopsTheRunInsteadOfHangingIt() throws Exception {
    java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
    validation = w -> {
      if (calls.getAndIncrement() > 0) { // the start's evaluation passes; the merge's does not
        throw new OutOfMemoryError("Java heap space");
      }
      return 3.0;
    };
    start(2, Duration.ofSeconds(60));
    List<TestWorker> ws = joined(2);
    Random rng = new Random(5);
    for (TestWorker w : ws) {
      w.submit(w.awaitRound(0), update(RANK, rng)).get(10, TimeUnit.SECONDS);
    }
    assertTrue(core.record().awaitEnd(Duration.ofSeconds(30)), "the run did not stop: it hangs in its merge");
    String why = core.record().failure().orElseThrow().getMessage();
    assertTrue(why.startsWith("round 1 ran out of memory (Java heap space; this coordinator's heap is ")
        && why.contains("-Xmx"), why);
    assertTrue(merged.isEmpty(), "nothing of the failed round is published");
  }

  /** expected += lift(B, P) with P (d x r) in float64: B P^T (RIGHT, B m x r) or P B (LEFT, B r x n). */
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
    List<TestWorker> ws = joined(3);
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
          .join(JoinRequest.newBuilder().setWorkerName("x").setProtocolVersion(io.orthoslice.common.wire.Protocol.VERSION).build()));
      assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    }
  }

  @Test
  void misShapedUpdateIsInvalidArgumentAndNothingOfItIsMerged() throws Exception {
    // Two workers: the round waits for the second, so the first may still send a well-formed update.
    start(2, Duration.ofSeconds(60));
    List<TestWorker> ws = joined(2);
    TestWorker w = ws.get(0);
    RoundAssignment a = w.awaitRound(0);
    RoundAssignment other = ws.get(1).awaitRound(0);
    Map<String, WireTensor> wrongRank = update(RANK + 1, new Random(3));
    ExecutionException e = assertThrows(ExecutionException.class, () -> w.submit(a, wrongRank).get(10, TimeUnit.SECONDS));
    StatusRuntimeException s = (StatusRuntimeException) e.getCause();
    assertEquals(Status.Code.INVALID_ARGUMENT, s.getStatus().getCode());
    assertTrue(s.getStatus().getDescription().contains("expected [16, 4]"), s.getStatus().getDescription());
    assertEquals(0, core.currentWeights().version());
    assertTrue(core.record().rounds().isEmpty());
    // The round is still open and takes a well-formed update from the same slot.
    w.submit(a, update(RANK, new Random(4))).get(10, TimeUnit.SECONDS);
    ws.get(1).submit(other, update(RANK, new Random(6))).get(10, TimeUnit.SECONDS);
    assertEquals(List.of(0, 1), merged.poll(30, TimeUnit.SECONDS).mergedSlots());
  }

  @Test
  void oversizedChunkOrUpdateIsResourceExhaustedAndNothingOfItIsMerged() throws Exception {
    // Two workers: the round stays open for the second while the first's oversized updates are refused.
    start(2, Duration.ofSeconds(60));
    List<TestWorker> ws = joined(2);
    TestWorker w = ws.get(0);
    RoundAssignment a = w.awaitRound(0);
    Map<String, WireTensor> good = update(RANK, new Random(5));
    String first = good.keySet().iterator().next();
    long allowed = 0;
    for (WireTensor t : good.values()) {
      allowed += t.data().length;
    }
    assertEquals(allowed, core.validator().maxBytes());

    // One chunk above the 1 MiB limit (the tensor itself would be small enough).
    int n = TensorCodec.MAX_CHUNK_BYTES / Float.BYTES + 1;
    TensorChunk bigChunk = TensorChunk.newBuilder().setVersion(TensorCodec.VERSION).setName(first)
        .setDtype(io.orthoslice.proto.DType.DTYPE_F32).addShape(n).setTotalBytes(4L * n).setOffset(0)
        .setData(ByteString.copyFrom(new byte[4 * n])).build();
    assertExhausted(w.submitChunks(a, List.of(bigChunk)), "exceeds the limit of " + TensorCodec.MAX_CHUNK_BYTES);

    // A tensor declaring far more than the whole update may carry: refused at its first chunk.
    long huge = 1L << 24;
    TensorChunk hugeStart = TensorChunk.newBuilder().setVersion(TensorCodec.VERSION).setName(first)
        .setDtype(io.orthoslice.proto.DType.DTYPE_F32).addShape(huge).setTotalBytes(4 * huge).setOffset(0)
        .setData(ByteString.copyFrom(new byte[1024])).build();
    assertExhausted(w.submitChunks(a, List.of(hugeStart)), "above its limit of " + allowed + " bytes");

    // Every tensor well-formed, but one sent again: the update is larger than its shapes allow.
    List<TensorChunk> chunks = new ArrayList<>();
    good.values().forEach(t -> TensorCodec.encode(t, chunks::add));
    TensorCodec.encode(good.get(first), chunks::add);
    assertExhausted(w.submitChunks(a, chunks), "above its limit of " + allowed + " bytes");

    assertEquals(0, core.currentWeights().version());
    assertTrue(core.record().rounds().isEmpty());
    assertTrue(merged.isEmpty());
    // Nothing was stored for the slot: the same slot's well-formed update is taken, and merges with the other.
    w.submit(a, good).get(10, TimeUnit.SECONDS);
    ws.get(1).submit(ws.get(1).awaitRound(0), update(RANK, new Random(7))).get(10, TimeUnit.SECONDS);
    RoundResult r = merged.poll(30, TimeUnit.SECONDS);
    assertEquals(List.of(0, 1), r.mergedSlots());
    assertEquals(allowed, r.uploadBytesPerWorker());
  }

  /**
   * Hostile updates and calls (issue 13): NaN, a huge value, another worker's id; each gets its
   * status and a counted refusal, none of it is merged, and every honest slot still merges.
   * Then, with three updates, one 100x larger than the others is left out of the merge.
   */
  @Test
  void hostileUpdatesAreRefusedWithTheirStatusAndNothingOfThemIsMerged() throws Exception {
    start(3, Duration.ofSeconds(60));
    List<TestWorker> ws = joined(3);
    List<RoundAssignment> as = new ArrayList<>();
    for (TestWorker w : ws) {
      as.add(w.awaitRound(0));
    }
    Map<String, WireTensor> good = update(RANK, new Random(21));
    String first = good.keySet().iterator().next();
    for (float poison : new float[] {Float.NaN, Float.POSITIVE_INFINITY, 1e30f}) {
      Map<String, WireTensor> bad = new LinkedHashMap<>(good);
      float[] v = good.get(first).toFloats();
      v[3] = poison;
      bad.put(first, WireTensor.ofFloats(first, v, good.get(first).shape()));
      StatusRuntimeException e = statusOf(ws.get(0).submit(as.get(0), bad));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().contains(first + " holds " + poison + " at element 3"),
          e.getStatus().getDescription());
    }
    // Worker 1 names worker 2's id (and slot) with its own key: PERMISSION_DENIED, on every call.
    TestWorker impostor = new TestWorker(channel, TOKEN);
    impostor.id = ws.get(2).id;
    impostor.key = ws.get(1).key;
    StatusRuntimeException e = statusOf(impostor.submit(as.get(2), good));
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class, impostor::heartbeat)
        .getStatus().getCode());
    assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class,
        () -> impostor.awaitRound(0)).getStatus().getCode());
    assertEquals(2.0, refused("non_finite"));
    assertEquals(1.0, refused("out_of_bound"));
    assertEquals(3.0, refused("not_that_worker"));
    assertTrue(core.record().rounds().isEmpty() && merged.isEmpty());

    // The honest updates of all three slots merge: a refusal cost nothing but the refused message.
    Map<String, WireTensor> outlier = new LinkedHashMap<>();
    update(RANK, new Random(23)).forEach((n, t) -> {
      float[] v = t.toFloats();
      for (int i = 0; i < v.length; i++) {
        v[i] *= 100;
      }
      outlier.put(n, WireTensor.ofFloats(n, v, t.shape()));
    });
    ws.get(0).submit(as.get(0), good).get(10, TimeUnit.SECONDS);
    ws.get(1).submit(as.get(1), update(RANK, new Random(22))).get(10, TimeUnit.SECONDS);
    ws.get(2).submit(as.get(2), outlier).get(10, TimeUnit.SECONDS);
    RoundResult r = merged.poll(30, TimeUnit.SECONDS);
    assertEquals(List.of(0, 1), r.mergedSlots(), "the 100x update is left out of the merge");
    assertEquals(1.0, refused("outlier"));
  }

  /**
   * A refused update is cheap: the round does not wait for the refused slot until its deadline (60 s
   * here) but merges as soon as the other updates are in; an impostor's refused update frees no slot.
   */
  @Test
  void aRoundWhoseOnlyMissingUpdateWasRefusedClosesWhenTheRestAreIn() throws Exception {
    start(2, Duration.ofSeconds(60));
    List<TestWorker> ws = joined(2);
    RoundAssignment a0 = ws.get(0).awaitRound(0);
    RoundAssignment a1 = ws.get(1).awaitRound(0);
    Map<String, WireTensor> good = update(RANK, new Random(31));
    String first = good.keySet().iterator().next();
    Map<String, WireTensor> bad = new LinkedHashMap<>(good);
    float[] v = good.get(first).toFloats();
    v[0] = Float.NaN;
    bad.put(first, WireTensor.ofFloats(first, v, good.get(first).shape()));
    TestWorker impostor = new TestWorker(channel, TOKEN);
    impostor.id = ws.get(0).id;
    impostor.key = ws.get(1).key;
    assertEquals(Status.Code.PERMISSION_DENIED, statusOf(impostor.submit(a0, bad)).getStatus().getCode());
    long t0 = System.nanoTime();
    ws.get(1).submit(a1, update(RANK, new Random(32))).get(10, TimeUnit.SECONDS);
    assertEquals(null, merged.poll(500, TimeUnit.MILLISECONDS), "slot 0 is still awaited");
    assertEquals(Status.Code.INVALID_ARGUMENT, statusOf(ws.get(0).submit(a0, bad)).getStatus().getCode());
    RoundResult r = merged.poll(10, TimeUnit.SECONDS);
    assertEquals(List.of(a1.getSlot()), r.mergedSlots());
    assertTrue((System.nanoTime() - t0) / 1e9 < 15, "the round waited for its deadline");
  }

  @Test
  void aWorkerNameOverItsBoundIsInvalidArgumentNamingTheBound() throws Exception {
    start(1, Duration.ofSeconds(60));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> new TestWorker(channel, TOKEN).join("n".repeat(io.orthoslice.common.wire.Protocol.MAX_WORKER_NAME_BYTES + 1)));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals("worker_name is 129 bytes; at most 128 are allowed", e.getStatus().getDescription());
    new TestWorker(channel, TOKEN).join("n".repeat(io.orthoslice.common.wire.Protocol.MAX_WORKER_NAME_BYTES));
  }

  @Test
  void undecodableBytesAreInvalidArgumentNotUnknown() throws Exception {
    start(1, Duration.ofSeconds(60));
    io.grpc.MethodDescriptor.Marshaller<byte[]> raw = new io.grpc.MethodDescriptor.Marshaller<>() {
      @Override
      public java.io.InputStream stream(byte[] v) {
        return new java.io.ByteArrayInputStream(v);
      }

      @Override
      public byte[] parse(java.io.InputStream in) {
        try {
          return in.readAllBytes();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    };
    io.grpc.MethodDescriptor<byte[], byte[]> join = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(io.grpc.MethodDescriptor.MethodType.UNARY).setFullMethodName("orthoslice.v1.Coordinator/Join")
        .setRequestMarshaller(raw).setResponseMarshaller(raw).build();
    io.grpc.Channel authed = io.grpc.ClientInterceptors.intercept(channel, TestWorker.bearer(TOKEN));
    // Field 1 (worker_name) announcing a length far beyond the bytes that follow, then noise.
    byte[] garbage = new byte[64];
    new Random(9).nextBytes(garbage);
    byte[] head = {0x0a, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x7f};
    System.arraycopy(head, 0, garbage, 0, head.length);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> io.grpc.stub.ClientCalls
        .blockingUnaryCall(authed, join, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), garbage));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().startsWith("undecodable Join message: "), e.getStatus().getDescription());
    // Nothing joined, and a well-formed Join still works.
    new TestWorker(channel, TOKEN).join("after");
    assertTrue(core.record().rounds().isEmpty());
  }

  /** A worker whose connection dies mid-round is dropped at once, not after the 60 s heartbeat time-out. */
  @Test
  void aWorkerWhoseConnectionDiesIsDroppedAtOnceAndTheRoundMergesWithoutIt() throws Exception {
    start(2, 1, Duration.ofSeconds(60), Duration.ofSeconds(60));
    String name = InProcessServerBuilder.generateName();
    open.add(new CoordinatorServer(InProcessServerBuilder.forName(name),
        new CoordinatorService(core, CoordinatorService.runSpec(core.settings(), "run", 1, 2), Duration.ofSeconds(5)),
        TOKEN));
    ManagedChannel own = InProcessChannelBuilder.forName(name).build();
    TestWorker doomed = new TestWorker(own, TOKEN);
    TestWorker alive = new TestWorker(channel, TOKEN);
    doomed.join("doomed");
    alive.join("alive");
    RoundAssignment a = alive.awaitRound(0);
    doomed.awaitRound(0);
    doomed.async.presence(io.orthoslice.proto.PresenceRequest.newBuilder().setWorkerId(doomed.id)
        .setWorkerKey(doomed.key).build(), new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(io.orthoslice.proto.PresenceEvent e) {}

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        });
    alive.heartbeat(); // the presence call is on its way; a heartbeat round trip lets it arrive
    Thread.sleep(100);
    alive.submit(a, update(RANK, new Random(31))).get(10, TimeUnit.SECONDS);
    long t0 = System.nanoTime();
    own.shutdownNow(); // the worker's process died: its connection closes
    RoundResult r = merged.poll(10, TimeUnit.SECONDS);
    assertTrue(r != null, "the round did not merge within 10 s of the connection dying");
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertEquals(List.of(a.getSlot()), r.mergedSlots());
    assertTrue(seconds < 5, "merged " + seconds + " s after the connection died (heartbeat time-out 60 s)");
    assertEquals(1.0, registry.get("orthoslice.workers.dropped").counter().count());
  }

  private double refused(String reason) {
    return registry.get("orthoslice.requests.refused").tag("reason", reason).counter().count();
  }

  private static StatusRuntimeException statusOf(java.util.concurrent.Future<?> f) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    return (StatusRuntimeException) e.getCause();
  }

  private static void assertExhausted(java.util.concurrent.Future<?> f, String detail) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    StatusRuntimeException s = (StatusRuntimeException) e.getCause();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getStatus().getCode(), s.getStatus().toString());
    assertTrue(s.getStatus().getDescription().contains(detail), s.getStatus().getDescription());
  }

  @Test
  void silentWorkerIsDroppedAfterTheHeartbeatTimeoutAndTheNextRoundOpensWithoutIt() throws Exception {
    long timeoutMs = 400;
    start(2, 1, Duration.ofSeconds(60), Duration.ofMillis(timeoutMs));
    TestWorker alive = new TestWorker(channel, TOKEN);
    TestWorker silent = new TestWorker(channel, TOKEN);
    alive.join("alive");
    silent.join("silent");
    ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor();
    open.add(beats::shutdownNow);
    beats.scheduleAtFixedRate(alive::heartbeat, 0, 50, TimeUnit.MILLISECONDS);
    RoundAssignment a = alive.awaitRound(0);
    RoundAssignment b = silent.awaitRound(0);
    long silentSince = System.nanoTime();
    assertEquals(2, a.getParticipants());
    assertEquals(2, b.getParticipants());

    double dropped = 0;
    while (dropped == 0 && System.nanoTime() - silentSince < TimeUnit.SECONDS.toNanos(10)) {
      Thread.sleep(20);
      dropped = registry.get("orthoslice.workers.dropped").counter().count();
    }
    long silentMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - silentSince);
    assertEquals(1.0, dropped);
    assertTrue(silentMs >= timeoutMs, "dropped after " + silentMs + " ms of silence, the timeout is " + timeoutMs);
    assertEquals(0.0, registry.get("orthoslice.workers.left").counter().count());
    assertEquals(1.0, registry.get("orthoslice.workers.active").gauge().value());
    StatusRuntimeException gone = assertThrows(StatusRuntimeException.class, silent::heartbeat);
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());

    // The round no longer waits for the dropped worker: the live one's update completes it.
    alive.submit(a, update(RANK, new Random(6))).get(10, TimeUnit.SECONDS);
    RoundResult r = merged.poll(30, TimeUnit.SECONDS);
    assertEquals(List.of(a.getSlot()), r.mergedSlots());
    RoundAssignment next = alive.awaitRound(1);
    assertEquals(1, next.getRound());
    assertEquals(1, next.getParticipants());
    assertEquals(0, next.getSlot());
  }
}
