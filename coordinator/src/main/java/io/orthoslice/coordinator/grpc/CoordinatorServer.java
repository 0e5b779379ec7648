package io.orthoslice.coordinator.grpc;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * The coordinator's gRPC server: the service behind the token check (and undecodable requests
 * answered INVALID_ARGUMENT), on whatever transport the builder makes (Netty with or without TLS in production, in-process in tests).
 */
public final class CoordinatorServer implements AutoCloseable {

  private final Server server;

  public CoordinatorServer(ServerBuilder<?> builder, CoordinatorService service, String token) throws IOException {
    this(builder, service, token, io.orthoslice.common.wire.LinkModel.NONE);
  }

  /** @param link the simulated link every call passes through (outermost: its time is the network's) */
  public CoordinatorServer(ServerBuilder<?> builder, CoordinatorService service, String token,
      io.orthoslice.common.wire.LinkModel link) throws IOException {
    io.grpc.ServerServiceDefinition guarded = ServerInterceptors.intercept(
        UndecodableRequests.refusedAsInvalid(service), new TokenAuthInterceptor(token));
    Server built = builder
        .addService(link.shapes() ? ServerInterceptors.intercept(guarded, new LinkShaping(link)) : guarded)
        .build();
    try {
      this.server = built.start();
    } catch (IOException e) {
      if (inUse(e)) { // grpc says "Failed to bind to address 0.0.0.0/0.0.0.0:PORT", its cause "Address already in use"
        throw new IllegalArgumentException("--port: " + e.getMessage() + ": the address is already in use (another"
            + " coordinator, or another program, listens there); choose another --port or stop that process", e);
      }
      throw e;
    }
  }

  private static boolean inUse(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.BindException
          || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
        return true;
      }
    }
    return false;
  }

  /** The bound port (-1 for transports without one). */
  public int port() {
    return server.getPort();
  }

  /** Stops accepting calls, gives running ones 5 s, then cancels them. */
  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
