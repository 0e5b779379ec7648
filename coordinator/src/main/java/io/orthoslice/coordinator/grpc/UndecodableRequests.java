package io.orthoslice.coordinator.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.BindableService;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Bytes that do not decode as the method's request message are INVALID_ARGUMENT. grpc-java parses
 * a request before any listener sees it and turns a parse failure into UNKNOWN ("Application error
 * processing RPC"); here requests travel as raw bytes and are parsed inside the listener instead
 * ({@link ServerInterceptors#useMarshalledMessages}), where a failure to decode closes the call
 * with INVALID_ARGUMENT naming the method and what the parser said.
 */
final class UndecodableRequests implements ServerInterceptor {

  private static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  private UndecodableRequests() {}

  /** {@code service} with requests decoded where a failure can be answered with INVALID_ARGUMENT. */
  static ServerServiceDefinition refusedAsInvalid(BindableService service) {
    return ServerInterceptors.intercept(ServerInterceptors.useMarshalledMessages(service.bindService(), RAW),
        new UndecodableRequests());
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
      private boolean refused;

      @Override
      public void onMessage(Q message) {
        if (refused) {
          return;
        }
        try {
          super.onMessage(message);
        } catch (RuntimeException e) {
          InvalidProtocolBufferException cause = parseFailure(e);
          if (cause == null) {
            throw e;
          }
          refused = true;
          call.close(Status.INVALID_ARGUMENT.withDescription("undecodable " + call.getMethodDescriptor()
              .getBareMethodName() + " message: " + cause.getMessage()), new Metadata());
        }
      }

      @Override
      public void onHalfClose() {
        if (!refused) {
          super.onHalfClose();
        }
      }
    };
  }

  private static InvalidProtocolBufferException parseFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof InvalidProtocolBufferException p) {
        return p;
      }
    }
    return null;
  }
}
