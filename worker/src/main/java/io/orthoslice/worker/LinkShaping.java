package io.orthoslice.worker;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.orthoslice.common.wire.LinkModel;

/**
 * The worker's end of a simulated link ({@code --link-rate}, {@code --link-latency}): every message
 * of every call to the coordinator passes through the link's queues, and each call's request and
 * first response message take one latency each, so a call costs at least a round trip.
 */
public final class LinkShaping implements ClientInterceptor {

  private final LinkModel link;

  public LinkShaping(LinkModel link) {
    this.link = link;
  }

  @Override
  public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      @Override
      public void start(Listener<A> listener, Metadata headers) {
        link.arrive(); // the request's trip
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          private boolean first = true;

          @Override
          public void onMessage(A message) {
            if (first) {
              first = false;
              link.arrive(); // the response's trip
            }
            link.receive(LinkModel.bytesOf(message));
            super.onMessage(message);
          }
        }, headers);
      }

      @Override
      public void sendMessage(Q message) {
        link.send(LinkModel.bytesOf(message));
        super.sendMessage(message);
      }
    };
  }
}
