package io.orthoslice.coordinator;

import io.orthoslice.coordinator.grpc.TokenAuthInterceptor;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.stub.StreamObserver;
import io.orthoslice.common.wire.TensorAssembler;
import io.orthoslice.common.wire.TensorCodec;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.proto.AwaitRoundRequest;
import io.orthoslice.proto.CoordinatorGrpc;
import io.orthoslice.proto.FetchWeightsRequest;
import io.orthoslice.proto.HeartbeatRequest;
import io.orthoslice.proto.JoinRequest;
import io.orthoslice.proto.JoinResponse;
import io.orthoslice.proto.RoundAssignment;
import io.orthoslice.proto.SubmitUpdateResponse;
import io.orthoslice.proto.TensorChunk;
import io.orthoslice.proto.UpdateHeader;
import io.orthoslice.proto.UpdatePart;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A scripted worker speaking the real protocol through stubs; the tests decide what it sends. */
final class TestWorker {

  final CoordinatorGrpc.CoordinatorBlockingStub blocking;
  final CoordinatorGrpc.CoordinatorStub async;
  String id;
  String key;

  TestWorker(Channel channel, String token) {
    Channel authed = ClientInterceptors.intercept(channel, bearer(token));
    this.blocking = CoordinatorGrpc.newBlockingStub(authed);
    this.async = CoordinatorGrpc.newStub(authed);
  }

  static ClientInterceptor bearer(String token) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions o, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, o)) {
          @Override
          public void start(Listener<R> l, Metadata headers) {
            if (token != null) {
              headers.put(TokenAuthInterceptor.AUTHORIZATION, "Bearer " + token);
            }
            super.start(l, headers);
          }
        };
      }
    };
  }

  void heartbeat() {
    blocking.withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.newBuilder().setWorkerId(id)
        .setWorkerKey(key).build());
  }

  JoinResponse join(String name) {
    JoinResponse r = blocking.withDeadlineAfter(10, TimeUnit.SECONDS)
        .join(JoinRequest.newBuilder().setWorkerName(name).setProtocolVersion(io.orthoslice.common.wire.Protocol.VERSION).build());
    id = r.getWorkerId();
    key = r.getWorkerKey();
    return r;
  }

  RoundAssignment awaitRound(long next) {
    while (true) {
      RoundAssignment a = blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
          .awaitRound(AwaitRoundRequest.newBuilder().setWorkerId(id).setWorkerKey(key).setNextRound(next).build());
      if (!a.getPending()) {
        return a;
      }
    }
  }

  Map<String, float[]> fetchWeights(long version) {
    Iterator<TensorChunk> it = blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
        .fetchWeights(FetchWeightsRequest.newBuilder().setWorkerId(id).setVersion(version).build());
    TensorAssembler a = new TensorAssembler();
    Map<String, float[]> out = new LinkedHashMap<>();
    it.forEachRemaining(c -> a.accept(c).ifPresent(t -> out.put(t.name(), t.toFloats())));
    a.finish();
    return out;
  }

  /** Streams an update; the future fails with the call's StatusRuntimeException. */
  CompletableFuture<SubmitUpdateResponse> submit(RoundAssignment a, Map<String, WireTensor> tensors) {
    List<TensorChunk> chunks = new ArrayList<>();
    for (WireTensor t : tensors.values()) {
      TensorCodec.encode(t, chunks::add);
    }
    return submitChunks(a, chunks);
  }

  /** Streams the header of {@code a}'s update, then these chunks as they are (well-formed or not). */
  CompletableFuture<SubmitUpdateResponse> submitChunks(RoundAssignment a, List<TensorChunk> chunks) {
    CompletableFuture<SubmitUpdateResponse> result = new CompletableFuture<>();
    StreamObserver<UpdatePart> out = async.withDeadlineAfter(30, TimeUnit.SECONDS).submitUpdate(new StreamObserver<>() {
      @Override
      public void onNext(SubmitUpdateResponse r) {
        result.complete(r);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    out.onNext(UpdatePart.newBuilder().setHeader(UpdateHeader.newBuilder().setWorkerId(id).setWorkerKey(key).setRound(a.getRound())
        .setSlot(a.getSlot()).setWeightsVersion(a.getWeightsVersion()).setMeanLoss(3.0).setTokens(100)).build());
    for (TensorChunk c : chunks) {
      out.onNext(UpdatePart.newBuilder().setTensor(c).build());
    }
    out.onCompleted();
    return result;
  }
}
