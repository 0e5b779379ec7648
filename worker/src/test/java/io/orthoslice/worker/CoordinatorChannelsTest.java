package io.orthoslice.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A --coordinator without a port and a --tls-ca that is not a certificate are one line each, up front. */
class CoordinatorChannelsTest {

  private static String refusal(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void aTargetNeedsItsPort() {
    CoordinatorChannels.requireTarget("localhost:7070");
    CoordinatorChannels.requireTarget("[::1]:7070");
    CoordinatorChannels.requireTarget("dns:///coordinator.default.svc:7070");
    assertEquals("--coordinator coordinator has no port; give HOST:PORT, e.g. coordinator:7070 (the coordinator's"
        + " default port)", refusal(() -> CoordinatorChannels.requireTarget("coordinator")));
    assertEquals("--coordinator [::1] has no port; give HOST:PORT, e.g. [::1]:7070 (the coordinator's default port)",
        refusal(() -> CoordinatorChannels.requireTarget("[::1]")));
    assertEquals("--coordinator host:99999: '99999' is not a port in 1..65535; give HOST:PORT, e.g. localhost:7070",
        refusal(() -> CoordinatorChannels.requireTarget("host:99999")));
    assertEquals("--coordinator :7070: '7070' is not a port in 1..65535 after a host; give HOST:PORT, e.g."
        + " localhost:7070", refusal(() -> CoordinatorChannels.requireTarget(":7070")));
  }

  @Test
  void aTlsCaThatIsNotACertificateIsNamed(@TempDir Path dir) throws Exception {
    Path notPem = dir.resolve("ca.pem");
    Files.writeString(notPem, "this is not a certificate\n");
    String why = refusal(() -> CoordinatorChannels.open("localhost:7070", notPem));
    assertEquals(true, why.startsWith("--tls-ca " + notPem + " "), why);
    assertEquals(true, why.endsWith("give the PEM CA certificate the coordinator's --tls-cert is signed by"), why);
    assertEquals(1, why.lines().count());
  }
}
