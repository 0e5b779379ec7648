package io.orthoslice.coordinator.grpc;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.orthoslice.common.wire.LinkModel;

/**
 * The coordinator's end of a simulated link ({@code --link-rate}, {@code --link-latency}): all it
 * sends and receives shares the link's two queues (one link for every worker, as a coordinator's own
 * network port is), and the first message each way of every call takes one latency.
 */
final class LinkShaping implements ServerInterceptor {

  private final LinkModel link;

  LinkShaping(LinkModel link) {
    this.link = link;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
      ServerCallHandler<Q, A> next) {
    ServerCall<Q, A> shaped = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      private boolean first = true;

      @Override
      public void sendMessage(A message) {
        if (first) {
          first = false;
          link.arrive();
        }
        link.send(LinkModel.bytesOf(message));
        super.sendMessage(message);
      }
    };
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(shaped, headers)) {
      private boolean first = true;

      @Override
      public void onMessage(Q message) {
        if (first) {
          first = false;
          link.arrive();
        }
        link.receive(LinkModel.bytesOf(message));
        super.onMessage(message);
      }
    };
  }
}
