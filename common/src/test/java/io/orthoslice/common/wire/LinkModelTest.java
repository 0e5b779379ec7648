package io.orthoslice.common.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The link model's units (tc's) and its queue: what passes it cannot pass faster than its rate. */
class LinkModelTest {

  @Test
  void ratesAndLatenciesReadAsTcWritesThem() {
    assertEquals(12.5e6, LinkModel.rate("100mbit"));
    assertEquals(125e6, LinkModel.rate("1gbit"));
    assertEquals(125e6, LinkModel.rate("1Gbit"));
    assertEquals(12.5e6, LinkModel.rate("12.5mbps"));
    assertEquals(1000.0 / 8, LinkModel.rate("1kbit"));
    assertEquals(Duration.ofMillis(20), LinkModel.latency("20ms"));
    assertEquals(Duration.ofNanos(1500), LinkModel.latency("1.5us"));
    assertEquals(Duration.ofSeconds(2), LinkModel.latency("2s"));
    assertSame(LinkModel.NONE, LinkModel.parse(null, ""));
    assertFalse(LinkModel.NONE.shapes());
    assertEquals("100.0 Mbit/s, 20.0 ms latency", LinkModel.parse("100mbit", "20ms").describe());
  }

  @Test
  void badValuesAreRefusedInOneLineNamingTheOptionAndTheUnits() {
    assertEquals("--link-rate '100' is not a rate; give a number > 0 with a unit as tc writes it: bit, kbit, mbit,"
        + " gbit (bits/s) or bps, kbps, mbps, gbps (bytes/s), e.g. 100mbit",
        assertThrows(IllegalArgumentException.class, () -> LinkModel.parse("100", null)).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> LinkModel.parse("0mbit", null)).getMessage()
        .startsWith("--link-rate '0mbit' is not a rate"));
    assertEquals("--link-latency 'soon' is not a duration; give a number >= 0 with us, ms or s, e.g. 20ms",
        assertThrows(IllegalArgumentException.class, () -> LinkModel.parse(null, "soon")).getMessage());
  }

  /**
   * Four threads send 200 KB each over a 8 Mbit/s (1 MB/s) link: one queue, so the last is through
   * no sooner than 0.8 s after the first started, while receiving (the other direction) waits for none.
   */
  @Test
  void sendersShareOneQueueAndTheOtherDirectionIsItsOwn() throws Exception {
    LinkModel link = LinkModel.parse("8mbit", null);
    long t0 = System.nanoTime();
    List<Thread> senders = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Thread t = new Thread(() -> link.send(200_000));
      senders.add(t);
      t.start();
    }
    long r0 = System.nanoTime();
    link.receive(10_000); // 10 ms on its own queue, not behind the senders
    double received = (System.nanoTime() - r0) / 1e9;
    for (Thread t : senders) {
      t.join();
    }
    double sent = (System.nanoTime() - t0) / 1e9;
    assertTrue(sent >= 0.79, "800 KB at 1 MB/s passed in " + sent + " s");
    assertTrue(received < 0.5, "the receive queue waited behind the sends: " + received + " s");
    long l0 = System.nanoTime();
    LinkModel.parse(null, "30ms").arrive();
    assertTrue((System.nanoTime() - l0) / 1e9 >= 0.029);
  }
}
