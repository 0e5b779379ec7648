package io.orthoslice.worker;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The worker's channel to its coordinator: plaintext, or TLS trusting the CA of {@code --tls-ca}. */
public final class CoordinatorChannels {

  private CoordinatorChannels() {}

  /** @param tlsCa PEM CA certificate to trust, or null for plaintext */
  public static ManagedChannel open(String target, Path tlsCa) {
    ChannelCredentials creds;
    if (tlsCa == null) {
      creds = InsecureChannelCredentials.create();
    } else {
      if (!Files.isRegularFile(tlsCa)) {
        throw new IllegalArgumentException("--tls-ca " + tlsCa + " is not a file (a PEM CA certificate)");
      }
      try {
        creds = TlsChannelCredentials.newBuilder().trustManager(tlsCa.toFile()).build();
      } catch (IOException e) {
        throw new UncheckedIOException("reading --tls-ca " + tlsCa + ": " + e.getMessage(), e);
      }
    }
    return Grpc.newChannelBuilder(target, creds).maxInboundMessageSize(8 << 20).build();
  }
}
