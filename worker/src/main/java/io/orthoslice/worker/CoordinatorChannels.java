package io.orthoslice.worker;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;

/** The worker's channel to its coordinator: plaintext, or TLS trusting the CA of {@code --tls-ca}. */
public final class CoordinatorChannels {

  private CoordinatorChannels() {}

  /** @param tlsCa PEM CA certificate to trust, or null for plaintext */
  public static ManagedChannel open(String target, Path tlsCa) {
    requireTarget(target);
    ChannelCredentials creds;
    if (tlsCa == null) {
      creds = InsecureChannelCredentials.create();
    } else {
      if (!Files.isRegularFile(tlsCa)) {
        throw new IllegalArgumentException("--tls-ca " + tlsCa + " is not a file (a PEM CA certificate)");
      }
      requireCertificate(tlsCa);
      try {
        creds = TlsChannelCredentials.newBuilder().trustManager(tlsCa.toFile()).build();
      } catch (IOException e) {
        throw new UncheckedIOException("reading --tls-ca " + tlsCa + ": " + e.getMessage(), e);
      }
    }
    return Grpc.newChannelBuilder(target, creds).maxInboundMessageSize(8 << 20).build();
  }

  /**
   * Refuses a {@code --coordinator} that names no port up front (gRPC would try port 443 and report
   * it only as "unavailable"); a gRPC target URI ({@code dns:///host:port}) is taken as it is.
   */
  static void requireTarget(String target) {
    if (target == null || target.isBlank()) {
      throw new IllegalArgumentException("--coordinator is empty; give HOST:PORT, e.g. localhost:7070");
    }
    if (target.contains("://")) {
      return;
    }
    int colon = target.lastIndexOf(':');
    boolean bracketed = target.startsWith("[");
    if (colon < 0 || (bracketed && colon < target.indexOf(']'))) {
      throw new IllegalArgumentException("--coordinator " + target + " has no port; give HOST:PORT, e.g. " + target
          + ":7070 (the coordinator's default port)");
    }
    String port = target.substring(colon + 1);
    int p;
    try {
      p = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      p = -1;
    }
    if (p < 1 || p > 65535 || colon == 0) {
      throw new IllegalArgumentException("--coordinator " + target + ": '" + port + "' is not a port in 1..65535"
          + (colon == 0 ? " after a host" : "") + "; give HOST:PORT, e.g. localhost:7070");
    }
  }

  /** Refuses a {@code --tls-ca} file that holds no PEM certificate, naming the flag and the file. */
  static void requireCertificate(Path tlsCa) {
    try (InputStream in = Files.newInputStream(tlsCa)) {
      if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
        throw new IllegalArgumentException("--tls-ca " + tlsCa + " holds no certificate; give the PEM CA certificate"
            + " the coordinator's --tls-cert is signed by");
      }
    } catch (CertificateException e) {
      throw new IllegalArgumentException("--tls-ca " + tlsCa + " is not a PEM certificate (" + e.getMessage()
          + "); give the PEM CA certificate the coordinator's --tls-cert is signed by", e);
    } catch (IOException e) {
      throw new UncheckedIOException("reading --tls-ca " + tlsCa + ": " + e.getMessage(), e);
    }
  }
}
