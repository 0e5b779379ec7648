package io.orthoslice.coordinator.grpc;

import io.orthoslice.common.wire.Protocol;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Refuses every call whose "authorization" metadata is not {@code Bearer <run token>} with
 * UNAUTHENTICATED, before any service code runs. The comparison takes constant time.
 */
public final class TokenAuthInterceptor implements ServerInterceptor {

  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of(Protocol.AUTHORIZATION_HEADER, Metadata.ASCII_STRING_MARSHALLER);

  private final byte[] expected;

  public TokenAuthInterceptor(String token) {
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("token must not be empty");
    }
    this.expected = Protocol.bearer(token).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String got = headers.get(AUTHORIZATION);
    if (got == null || !MessageDigest.isEqual(expected, got.getBytes(StandardCharsets.UTF_8))) {
      call.close(Status.UNAUTHENTICATED.withDescription(got == null ? "missing run token (authorization metadata)"
          : "wrong run token"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }
}
