package io.orthoslice.common.wire;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A simulated network link for one process ({@code --link-rate}, {@code --link-latency}): what it
 * sends and what it receives each pass through a queue of the link's rate (two directions, full
 * duplex, as Ethernet is), and the first message of every call it receives arrives one latency late.
 * The gRPC layers of the worker and the coordinator call it around every message, so a run on one
 * machine shows what a slow network would cost (the time to a target perplexity over 100 Mbit/s, say)
 * before anyone rents one. Messages queue behind each other as on a real link; a message is not
 * split, so a link paced here is as bursty as the 4 MiB chunks the tensors travel in.
 *
 * <p>Units follow tc: {@code bit}, {@code kbit}, {@code mbit}, {@code gbit} are bits per second,
 * {@code bps}, {@code kbps}, {@code mbps}, {@code gbps} bytes per second, all decimal; latencies take
 * {@code us}, {@code ms} or {@code s}.
 */
public final class LinkModel {

  /** No shaping: every call returns at once. */
  public static final LinkModel NONE = new LinkModel(0, Duration.ZERO);

  private static final Pattern RATE = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*([kmg]?)(bit|bps)");
  private static final Pattern LATENCY = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*(us|ms|s)");

  private final double bytesPerSecond; // 0: unlimited
  private final Duration latency;
  private final Direction out = new Direction();
  private final Direction in = new Direction();

  /** One direction of the link: the time its queue is busy until. */
  private static final class Direction {
    private long busyUntil;
  }

  public LinkModel(double bytesPerSecond, Duration latency) {
    if (bytesPerSecond < 0 || latency.isNegative()) {
      throw new IllegalArgumentException("a link's rate and latency must be >= 0");
    }
    this.bytesPerSecond = bytesPerSecond;
    this.latency = latency;
  }

  /**
   * @param rate e.g. {@code 100mbit}, {@code 1gbit}, {@code 12.5mbps}; null or empty: unlimited
   * @param latency e.g. {@code 20ms}; null or empty: none
   * @throws IllegalArgumentException naming the option and what it allows
   */
  public static LinkModel parse(String rate, String latency) {
    double bps = rate == null || rate.isBlank() ? 0 : rate(rate);
    Duration lat = latency == null || latency.isBlank() ? Duration.ZERO : latency(latency);
    return bps == 0 && lat.isZero() ? NONE : new LinkModel(bps, lat);
  }

  static double rate(String s) {
    Matcher m = RATE.matcher(s.trim().toLowerCase(Locale.ROOT));
    if (!m.matches() || !(Double.parseDouble(m.group(1)) > 0)) {
      throw new IllegalArgumentException("--link-rate '" + s + "' is not a rate; give a number > 0 with a unit as tc"
          + " writes it: bit, kbit, mbit, gbit (bits/s) or bps, kbps, mbps, gbps (bytes/s), e.g. 100mbit");
    }
    double scale = switch (m.group(2)) {
      case "k" -> 1e3;
      case "m" -> 1e6;
      case "g" -> 1e9;
      default -> 1;
    };
    double v = Double.parseDouble(m.group(1)) * scale;
    return m.group(3).equals("bit") ? v / 8 : v;
  }

  static Duration latency(String s) {
    Matcher m = LATENCY.matcher(s.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException("--link-latency '" + s + "' is not a duration; give a number >= 0 with us, ms"
          + " or s, e.g. 20ms");
    }
    double v = Double.parseDouble(m.group(1));
    double nanos = v * switch (m.group(2)) {
      case "us" -> 1e3;
      case "ms" -> 1e6;
      default -> 1e9;
    };
    return Duration.ofNanos(Math.round(nanos));
  }

  /** Bytes a gRPC message takes on the wire: its protobuf encoding, or a raw byte array as it is. */
  public static long bytesOf(Object message) {
    if (message instanceof byte[] b) {
      return b.length;
    }
    return message instanceof com.google.protobuf.MessageLite m ? m.getSerializedSize() : 0;
  }

  /** Whether this link shapes anything. */
  public boolean shapes() {
    return bytesPerSecond > 0 || !latency.isZero();
  }

  public double bytesPerSecond() {
    return bytesPerSecond;
  }

  public Duration latency() {
    return latency;
  }

  /** Blocks while {@code bytes} go out: they wait for the outgoing queue, then take their time on it. */
  public void send(long bytes) {
    pass(out, bytes);
  }

  /** Blocks while {@code bytes} come in over the incoming queue. */
  public void receive(long bytes) {
    pass(in, bytes);
  }

  /** Blocks one latency: the first message of a call the process receives. */
  public void arrive() {
    sleepNanos(latency.toNanos());
  }

  private void pass(Direction d, long bytes) {
    if (bytesPerSecond <= 0 || bytes <= 0) {
      return;
    }
    long done;
    synchronized (d) {
      long now = System.nanoTime();
      long start = Math.max(now, d.busyUntil);
      d.busyUntil = start + Math.round(bytes * 1e9 / bytesPerSecond);
      done = d.busyUntil;
    }
    sleepNanos(done - System.nanoTime());
  }

  private static void sleepNanos(long nanos) {
    if (nanos <= 0) {
      return;
    }
    try {
      Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** E.g. "100 Mbit/s, 20 ms" (or "unshaped"). */
  public String describe() {
    if (!shapes()) {
      return "unshaped";
    }
    String r = bytesPerSecond > 0 ? String.format(Locale.ROOT, "%.4g Mbit/s", bytesPerSecond * 8 / 1e6) : "any rate";
    return r + ", " + String.format(Locale.ROOT, "%.3g ms", latency.toNanos() / 1e6) + " latency";
  }
}
