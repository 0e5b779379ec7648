package io.orthoslice.coordinator.grpc;

import io.orthoslice.coordinator.Coordinator;
import io.orthoslice.coordinator.CoordinatorException;
import io.orthoslice.coordinator.CoordinatorMetrics;
import io.orthoslice.coordinator.JoinedWorker;
import io.orthoslice.coordinator.RunSettings;
import io.orthoslice.coordinator.Submission;
import io.orthoslice.coordinator.WeightsSnapshot;

import io.orthoslice.common.wire.Assignment;
import io.orthoslice.common.wire.DeltaUpdate;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.orthoslice.common.wire.TensorAssembler;
import io.orthoslice.common.wire.WireFormatException;
import io.orthoslice.common.wire.WireLimitException;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.proto.AwaitRoundRequest;
import io.orthoslice.proto.CoordinatorGrpc;
import io.orthoslice.proto.FetchRoundUpdateRequest;
import io.orthoslice.proto.FetchWeightsRequest;
import io.orthoslice.proto.HeartbeatRequest;
import io.orthoslice.proto.HeartbeatResponse;
import io.orthoslice.proto.JoinRequest;
import io.orthoslice.proto.JoinResponse;
import io.orthoslice.proto.LeaveRequest;
import io.orthoslice.proto.LeaveResponse;
import io.orthoslice.proto.PresenceEvent;
import io.orthoslice.proto.PresenceRequest;
import io.orthoslice.proto.RoundAssignment;
import io.orthoslice.proto.RoundUpdateHeader;
import io.orthoslice.proto.RoundUpdatePart;
import io.orthoslice.proto.RunSpec;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.RunDescription;
import io.orthoslice.common.wire.WireMessages;
import io.orthoslice.proto.SubmitUpdateResponse;
import io.orthoslice.proto.TensorChunk;
import io.orthoslice.proto.UpdateHeader;
import io.orthoslice.proto.UpdatePart;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/**
 * The gRPC face of a {@link Coordinator}: converts messages to calls on the core and back, and the
 * core's refusals to status codes with a readable description. No round logic lives here.
 *
 * <p>Over 300 lines because the protocol has eight calls, each a thin method here that translates and delegates
 * to the core.
 */
public final class CoordinatorService extends CoordinatorGrpc.CoordinatorImplBase {

  /** How long a fetch of the version a merge is producing waits for it (overlap) before UNAVAILABLE. */
  private static final Duration MERGE_WAIT = Duration.ofMinutes(5);

  public static final int PROTOCOL_VERSION = Protocol.VERSION;

  private final Coordinator core;
  private final CoordinatorMetrics metrics;
  private final RunSpec runSpec;
  private final Duration longPoll;
  private final int heartbeatMs;

  /**
   * @param longPoll how long AwaitRound waits before answering pending
   */
  public CoordinatorService(Coordinator core, RunSpec runSpec, Duration longPoll) {
    this(core, runSpec, longPoll, CoordinatorMetrics.unregistered());
  }

  public CoordinatorService(Coordinator core, RunSpec runSpec, Duration longPoll, CoordinatorMetrics metrics) {
    this.metrics = metrics;
    this.core = core;
    this.runSpec = runSpec;
    this.longPoll = longPoll;
    this.heartbeatMs = (int) Math.max(50, core.settings().heartbeatTimeout().toMillis() / 3);
  }

  /** The run description every worker receives on Join. */
  public static RunSpec runSpec(RunSettings s, String runId, int bosId, int eosId) {
    return WireMessages.toProto(new RunDescription(runId, s.model(), bosId, eosId, s.config(), s.datasetId()));
  }

  @Override
  public void join(JoinRequest req, StreamObserver<JoinResponse> out) {
    unary(out, () -> {
      if (req.getProtocolVersion() != PROTOCOL_VERSION) {
        throw new CoordinatorException(CoordinatorException.Code.FAILED_PRECONDITION, "protocol version "
            + req.getProtocolVersion() + " is not supported; this coordinator speaks " + PROTOCOL_VERSION);
      }
      bounded("worker_name", req.getWorkerName(), Protocol.MAX_WORKER_NAME_BYTES);
      JoinedWorker j = core.join(req.getWorkerName());
      return JoinResponse.newBuilder().setWorkerId(j.workerId()).setWorkerKey(j.workerKey()).setRun(runSpec)
          .setWeightsVersion(j.weightsVersion()).setHeartbeatIntervalMs(heartbeatMs).build();
    });
  }

  @Override
  public void fetchWeights(FetchWeightsRequest req, StreamObserver<TensorChunk> out) {
    WeightsSnapshot w;
    try {
      core.broadcasts().awaitVersion(req.getVersion(), MERGE_WAIT); // overlap: the version may be merging now
      w = core.broadcasts().weights(req.getVersion());
    } catch (RuntimeException e) {
      out.onError(toStatus(e));
      return;
    }
    metrics.weightsSent(w.bytes());
    ChunkSender.send((ServerCallStreamObserver<TensorChunk>) out,
        new TensorMessages<>(w.values(), core.broadcasts()::wireShape, c -> c, List.of()));
  }

  /** A round's update: every parameter's change, already encoded in the run's wire precision. */
  @Override
  public void fetchRoundUpdate(FetchRoundUpdateRequest req, StreamObserver<RoundUpdatePart> out) {
    DeltaUpdate u;
    try {
      core.broadcasts().awaitVersion(req.getFromVersion() + 1, MERGE_WAIT);
      u = core.broadcasts().deltaUpdate(req.getFromVersion());
    } catch (RuntimeException e) {
      out.onError(toStatus(e));
      return;
    }
    metrics.updateSent(u.bytes());
    ChunkSender.send((ServerCallStreamObserver<RoundUpdatePart>) out, TensorMessages.encoded(u.tensors().values(),
        c -> RoundUpdatePart.newBuilder().setTensor(c).build(),
        List.of(RoundUpdatePart.newBuilder().setHeader(WireMessages.header(u)).build())));
  }

  @Override
  public void awaitRound(AwaitRoundRequest req, StreamObserver<RoundAssignment> out) {
    CompletableFuture<Assignment> f;
    try {
      f = core.awaitRound(req.getWorkerId(), req.getWorkerKey(), req.getNextRound());
    } catch (RuntimeException e) {
      out.onError(toStatus(e));
      return;
    }
    f.completeOnTimeout(null, longPoll.toMillis(), TimeUnit.MILLISECONDS).whenComplete((a, err) -> {
      if (err != null && !(err instanceof java.util.concurrent.CancellationException)) {
        out.onError(toStatus(err instanceof CompletionException && err.getCause() != null ? err.getCause() : err));
        return;
      }
      out.onNext(a == null ? RoundAssignment.newBuilder().setPending(true).build() : WireMessages.toProto(a));
      out.onCompleted();
    });
  }

  @Override
  public StreamObserver<UpdatePart> submitUpdate(StreamObserver<SubmitUpdateResponse> out) {
    return new StreamObserver<>() {
      private UpdateHeader header;
      // More data than the assignment's shapes allow is refused before it is buffered.
      private final TensorAssembler assembler = new TensorAssembler(core.validator().maxBytes());
      private final Map<String, WireTensor> tensors = new LinkedHashMap<>();
      private boolean failed;

      @Override
      public void onNext(UpdatePart part) {
        if (failed) {
          return;
        }
        try {
          if (part.hasHeader()) {
            if (header != null) {
              throw new WireFormatException("an update has exactly one header, first");
            }
            header = part.getHeader();
            core.checkHeader(header.getWorkerId(), header.getWorkerKey(), header.getRound(), header.getSlot(),
                header.getWeightsVersion());
          } else if (header == null) {
            throw new WireFormatException("an update must start with its header");
          } else {
            assembler.accept(part.getTensor()).ifPresent(t -> {
              if (tensors.put(t.name(), t) != null) {
                throw new WireFormatException("tensor " + t.name() + " was sent twice");
              }
              core.validator().checkTensor(header.getRound(), header.getSlot(), t);
            });
          }
        } catch (RuntimeException e) {
          failed = true;
          refusedForItsContent(e);
          out.onError(toStatus(e));
        }
      }

      /** Tells the core an update was refused for what it held (not for being late or someone else's). */
      private void refusedForItsContent(RuntimeException e) {
        boolean content = e instanceof WireFormatException || (e instanceof CoordinatorException c
            && (c.code() == CoordinatorException.Code.INVALID_ARGUMENT
                || c.code() == CoordinatorException.Code.RESOURCE_EXHAUSTED));
        if (header != null && content) {
          core.refusedUpdate(header.getWorkerId(), header.getWorkerKey(), header.getRound(), header.getSlot(),
              e.getMessage());
        }
      }

      @Override
      public void onError(Throwable t) {
        failed = true; // the client cancelled; nothing was stored
      }

      @Override
      public void onCompleted() {
        if (failed) {
          return;
        }
        unary(out, () -> {
          if (header == null) {
            throw new WireFormatException("empty update stream");
          }
          boolean merged;
          try {
            assembler.finish();
            merged = core.submit(new Submission(WireMessages.fromProto(header), tensors));
          } catch (RuntimeException e) {
            refusedForItsContent(e);
            throw e;
          }
          return SubmitUpdateResponse.newBuilder().setAccepted(true).setMerged(merged).build();
        });
      }
    };
  }

  @Override
  public void heartbeat(HeartbeatRequest req, StreamObserver<HeartbeatResponse> out) {
    unary(out, () -> HeartbeatResponse.newBuilder()
        .setCurrentRound(core.heartbeat(req.getWorkerId(), req.getWorkerKey()))
        .setWeightsVersion(core.currentWeights().version()).build());
  }

  @Override
  public void presence(PresenceRequest req, StreamObserver<PresenceEvent> out) {
    try {
      core.heartbeat(req.getWorkerId(), req.getWorkerKey()); // this worker, and alive
    } catch (RuntimeException e) {
      out.onError(toStatus(e));
      return;
    }
    ServerCallStreamObserver<PresenceEvent> call = (ServerCallStreamObserver<PresenceEvent>) out;
    call.setOnCancelHandler(() -> core.presenceLost(req.getWorkerId()));
    core.record().onEnd(() -> {
      if (core.record().failure().isPresent()) {
        return; // a stopped run may be resumed: the stream breaks when this process goes, as in a crash
      }
      try {
        // Also to a worker dropped meanwhile whose connection is still open (a stopped process): the
        // bytes wait in its socket, so it learns the run finished when it resumes, even after this process exited.
        call.onNext(PresenceEvent.newBuilder().setFinished(true).build());
        call.onCompleted();
      } catch (RuntimeException e) {
        // cancelled meanwhile: nothing to tell
      }
    });
  }

  @Override
  public void leave(LeaveRequest req, StreamObserver<LeaveResponse> out) {
    unary(out, () -> {
      bounded("reason", req.getReason(), Protocol.MAX_REASON_BYTES);
      core.leave(req.getWorkerId(), req.getWorkerKey(), req.getReason());
      return LeaveResponse.getDefaultInstance();
    });
  }

  /** A string field over its bound is INVALID_ARGUMENT naming the field and the bound. */
  private static void bounded(String field, String value, int maxBytes) {
    int n = value.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    if (n > maxBytes) {
      throw new CoordinatorException(CoordinatorException.Code.INVALID_ARGUMENT, field + " is " + n
          + " bytes; at most " + maxBytes + " are allowed");
    }
  }

  private interface Call<R> {
    R run();
  }

  private static <R> void unary(StreamObserver<R> out, Call<R> call) {
    R r;
    try {
      r = call.run();
    } catch (RuntimeException e) {
      out.onError(toStatus(e));
      return;
    }
    out.onNext(r);
    out.onCompleted();
  }

  /** Refusals become their status; anything unexpected is INTERNAL with its message, no stack trace. */
  static StatusRuntimeException toStatus(Throwable e) {
    Status s;
    if (e instanceof CoordinatorException c) {
      s = switch (c.code()) {
        case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
        case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
        case NOT_FOUND -> Status.NOT_FOUND;
        case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
        case ABORTED -> Status.ABORTED;
        case UNAVAILABLE -> Status.UNAVAILABLE;
        case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
      };
    } else if (e instanceof WireLimitException) {
      s = Status.RESOURCE_EXHAUSTED;
    } else if (e instanceof IllegalArgumentException) {
      s = Status.INVALID_ARGUMENT;
    } else if (e instanceof StatusRuntimeException sre) {
      return sre;
    } else {
      s = Status.INTERNAL;
    }
    return s.withDescription(e.getMessage()).asRuntimeException();
  }
}
