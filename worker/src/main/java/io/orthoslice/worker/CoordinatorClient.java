package io.orthoslice.worker;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.orthoslice.common.wire.Assignment;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.RunDescription;
import io.orthoslice.common.wire.TensorAssembler;
import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.wire.WireMessages;
import io.orthoslice.common.wire.TensorCodec;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.proto.AwaitRoundRequest;
import io.orthoslice.proto.CoordinatorGrpc;
import io.orthoslice.proto.FetchRoundUpdateRequest;
import io.orthoslice.proto.FetchWeightsRequest;
import io.orthoslice.proto.HeartbeatRequest;
import io.orthoslice.proto.JoinRequest;
import io.orthoslice.proto.JoinResponse;
import io.orthoslice.proto.LeaveRequest;
import io.orthoslice.proto.PresenceEvent;
import io.orthoslice.proto.PresenceRequest;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.atomic.AtomicReference;
import io.orthoslice.proto.RoundAssignment;
import io.orthoslice.proto.RoundUpdateHeader;
import io.orthoslice.proto.RoundUpdatePart;
import io.orthoslice.proto.SubmitUpdateResponse;
import io.orthoslice.proto.UpdateHeader;
import io.orthoslice.proto.UpdatePart;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The worker's side of the protocol over any {@link Channel}: the run token on every call, a
 * deadline on every call, and exponential back-off ({@link Backoff}) while the coordinator is UNAVAILABLE.
 *
 * <p>Over 300 lines because the protocol has eight calls, each a method here, plus the one translation of
 * status codes.
 */
public final class CoordinatorClient implements RoundClient {

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of(Protocol.AUTHORIZATION_HEADER, Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel owned;
  private final CoordinatorGrpc.CoordinatorBlockingStub blocking;
  private final CoordinatorGrpc.CoordinatorStub async;
  private final Duration callTimeout;
  private final Duration transferTimeout;
  private final Backoff backoff;
  /** The coordinator said on this worker's presence stream that the run finished. */
  private volatile boolean runFinished;

  /**
   * @param owned closed by {@link #close()} when not null (the channel {@code channel} wraps)
   * @param giveUpAfter how long to keep retrying an UNAVAILABLE coordinator
   */
  public CoordinatorClient(Channel channel, ManagedChannel owned, String token, Duration giveUpAfter) {
    this(channel, owned, token, Backoff.standard(giveUpAfter));
  }

  /** @param backoff how to retry an UNAVAILABLE coordinator, and for how long */
  public CoordinatorClient(Channel channel, ManagedChannel owned, String token, Backoff backoff) {
    Channel authed = ClientInterceptors.intercept(channel, bearer(token));
    this.owned = owned;
    this.blocking = CoordinatorGrpc.newBlockingStub(authed);
    this.async = CoordinatorGrpc.newStub(authed);
    this.callTimeout = Duration.ofSeconds(30);
    this.transferTimeout = Duration.ofMinutes(10);
    this.backoff = backoff;
  }

  @Override
  public Joined join(String name, String device, long memoryBytes) {
    JoinResponse r = retrying("join", () -> blocking.withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
        .join(JoinRequest.newBuilder().setWorkerName(name).setDevice(device).setMemoryBytes(memoryBytes)
            .setProtocolVersion(Protocol.VERSION).build()));
    return new Joined(r.getWorkerId(), r.getWorkerKey(), WireMessages.fromProto(r.getRun()), r.getWeightsVersion(),
        r.getHeartbeatIntervalMs());
  }

  /** Long-polls until a round for this worker opens or the run ends (never returns pending). */
  @Override
  public Assignment awaitRound(String workerId, String workerKey, long nextRound) {
    while (true) {
      RoundAssignment a = retrying("await round", () -> {
        try {
          return blocking.withDeadlineAfter(callTimeout.toMillis() * 2, TimeUnit.MILLISECONDS)
              .awaitRound(AwaitRoundRequest.newBuilder().setWorkerId(workerId).setWorkerKey(workerKey)
                  .setNextRound(nextRound).build());
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() != Status.Code.DEADLINE_EXCEEDED) {
            throw e;
          }
          // The coordinator answers a long poll within its long-poll time (pending at worst); no answer in twice
          // the deadline means it or the path to it is gone (or this process was stopped meanwhile): a lost connection.
          throw Status.UNAVAILABLE.withDescription("no answer to a long poll within " + callTimeout.toSeconds() * 2
              + " s").withCause(e).asRuntimeException();
        }
      });
      if (!a.getPending()) {
        return WireMessages.fromProto(a);
      }
    }
  }

  @Override
  public Map<String, WireTensor> fetchWeights(String workerId, long version) {
    return retrying("fetch weights", () -> {
      Iterator<io.orthoslice.proto.TensorChunk> it = blocking
          .withDeadlineAfter(transferTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .fetchWeights(FetchWeightsRequest.newBuilder().setWorkerId(workerId).setVersion(version).build());
      TensorAssembler a = new TensorAssembler();
      Map<String, WireTensor> out = new LinkedHashMap<>();
      it.forEachRemaining(c -> a.accept(c).ifPresent(t -> out.put(t.name(), t)));
      a.finish();
      return out;
    });
  }

  @Override
  public Optional<Fetched> fetchRoundUpdate(String workerId, long fromVersion) {
    try {
      return Optional.of(backoff.call("fetch round update", () -> fetchRoundUpdateOnce(workerId, fromVersion),
          this::resetConnectBackoff, () -> runFinished));
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION) {
        return Optional.empty(); // no update from that version (a full-rank round, or it is gone)
      }
      throw translate("fetch round update", e);
    }
  }

  private Fetched fetchRoundUpdateOnce(String workerId, long fromVersion) {
    {
      Iterator<RoundUpdatePart> it = blocking.withDeadlineAfter(transferTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .fetchRoundUpdate(FetchRoundUpdateRequest.newBuilder().setWorkerId(workerId).setFromVersion(fromVersion)
              .build());
      TensorAssembler a = new TensorAssembler();
      RoundUpdateHeader header = null;
      Map<String, WireTensor> out = new LinkedHashMap<>();
      while (it.hasNext()) {
        RoundUpdatePart p = it.next();
        if (p.hasHeader()) {
          header = p.getHeader();
        } else {
          a.accept(p.getTensor()).ifPresent(t -> out.put(t.name(), t));
        }
      }
      a.finish();
      if (header == null) {
        throw new IllegalStateException("round update without a header");
      }
      long bytes = out.values().stream().mapToLong(t -> t.data().length).sum();
      return new Fetched(WireMessages.deltaFromProto(header, out), bytes);
    }
  }

  /** Streams an update (header, then every tensor in chunks); returns the bytes of tensor data sent. */
  @Override
  public long submit(UpdateReport report, Iterable<WireTensor> tensors) {
    UpdateHeader header = WireMessages.toProto(report);
    CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
    StreamObserver<UpdatePart> out = async.withDeadlineAfter(transferTimeout.toMillis(), TimeUnit.MILLISECONDS)
        .submitUpdate(new StreamObserver<>() {
          @Override
          public void onNext(SubmitUpdateResponse r) {
            result.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            result.complete(null);
          }
        });
    long bytes = 0;
    try {
      out.onNext(UpdatePart.newBuilder().setHeader(header).build());
      for (WireTensor t : tensors) {
        bytes += TensorCodec.encode(t, c -> out.onNext(UpdatePart.newBuilder().setTensor(c).build()));
      }
      out.onCompleted();
    } catch (RuntimeException e) {
      out.onError(e);
      throw e;
    }
    try {
      result.get(transferTimeout.toMillis(), TimeUnit.MILLISECONDS);
      return bytes;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        if (s.getStatus().getCode() == Status.Code.FAILED_PRECONDITION) {
          throw new LateUpdateException("round " + (report.round() + 1) + ": " + describe(s), s);
        }
        throw translate("submit", s);
      }
      throw new IllegalStateException("submit failed: " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("submit took longer than " + transferTimeout, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("submit interrupted", e);
    }
  }

  /**
   * Opens this worker's presence stream (held for the run: when the worker's process dies, the
   * coordinator sees it break and drops the worker at once). When the coordinator says on it that the run
   * finished, {@code onRunFinished} runs and no call of this client retries a lost connection any more
   * ({@link RunFinishedException}). Returns what cancels the stream.
   */
  @Override
  public Runnable presence(String workerId, String workerKey, Runnable onRunFinished) {
    AtomicReference<ClientCallStreamObserver<PresenceRequest>> call = new AtomicReference<>();
    async.presence(PresenceRequest.newBuilder().setWorkerId(workerId).setWorkerKey(workerKey).build(),
        new ClientResponseObserver<PresenceRequest, PresenceEvent>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<PresenceRequest> requestStream) {
            call.set(requestStream);
          }

          @Override
          public void onNext(PresenceEvent e) {
            // Said once the last checkpoint is written. A worker stopped (SIGSTOP, a paused VM) meanwhile finds
            // it in its socket when it resumes, even if the coordinator has exited since.
            if (e.getFinished()) {
              runFinished = true;
              onRunFinished.run();
            }
          }

          @Override
          public void onError(Throwable t) {} // the heartbeat and the next call say what happened

          @Override
          public void onCompleted() {}
        });
    return () -> {
      ClientCallStreamObserver<PresenceRequest> c = call.get();
      if (c != null) {
        c.cancel("worker done with this membership", null);
      }
    };
  }

  @Override
  public void heartbeat(String workerId, String workerKey) {
    try {
      blocking.withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .heartbeat(HeartbeatRequest.newBuilder().setWorkerId(workerId).setWorkerKey(workerKey).build());
    } catch (StatusRuntimeException e) {
      throw translate("heartbeat", e);
    }
  }

  @Override
  public void leave(String workerId, String workerKey, String reason) {
    try {
      blocking.withDeadlineAfter(5, TimeUnit.SECONDS)
          .leave(LeaveRequest.newBuilder().setWorkerId(workerId).setWorkerKey(workerKey).setReason(reason).build());
    } catch (StatusRuntimeException e) {
      throw translate("leave", e);
    }
  }

  /**
   * Retries UNAVAILABLE with {@link Backoff}; before each retry the channel's own reconnect back-off
   * is reset, so a coordinator that came up is reached on the next attempt.
   */
  private <T> T retrying(String what, Supplier<T> call) {
    try {
      return backoff.call(what, call, this::resetConnectBackoff, () -> runFinished);
    } catch (StatusRuntimeException e) {
      throw translate(what, e);
    }
  }

  private void resetConnectBackoff() {
    if (owned != null) {
      owned.resetConnectBackoff();
    }
  }

  /**
   * A failed call in the worker's terms (Status.java's litmus test): the coordinator forgot this
   * worker or went away (NOT_FOUND, a lost connection: join again), the round moved on (ABORTED: ask
   * for the current one), or a refusal no retry fixes (everything else).
   */
  public static RuntimeException translate(String what, StatusRuntimeException e) {
    Status.Code code = e.getStatus().getCode();
    String line = what + ": " + describe(e);
    if (code == Status.Code.NOT_FOUND || Backoff.connectionLost(e)) {
      return new CoordinatorLostException(line, e);
    }
    if (code == Status.Code.ABORTED) {
      return new StaleRoundException(line, e);
    }
    return new CoordinatorRefusedException(line, code == Status.Code.UNAUTHENTICATED, e);
  }

  private static String describe(StatusRuntimeException e) {
    Status s = e.getStatus();
    return s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
  }

  private static ClientInterceptor bearer(String token) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions o, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, o)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            headers.put(AUTHORIZATION, Protocol.bearer(token));
            super.start(listener, headers);
          }
        };
      }
    };
  }

  /** Shuts the owned channel down gracefully, then forcefully; keeps the interrupt flag. */
  @Override
  public void close() {
    if (owned == null) {
      return;
    }
    owned.shutdown();
    try {
      if (!owned.awaitTermination(5, TimeUnit.SECONDS)) {
        owned.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      owned.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
