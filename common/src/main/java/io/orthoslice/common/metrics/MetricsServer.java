package io.orthoslice.common.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves {@code /metrics} (Prometheus text format) and {@code /healthz} (200 "ok" once the process
 * called {@link #ready()}, 503 before) with the JDK's HTTP server, so no web framework is needed.
 */
public final class MetricsServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);
  /** Prometheus text exposition format 0.0.4, what PrometheusMeterRegistry.scrape() writes. */
  static final String TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";

  private final HttpServer server;
  private final AtomicBoolean ready = new AtomicBoolean();
  private volatile java.time.Duration linger = java.time.Duration.ZERO;

  /**
   * @param port TCP port, 0 for any free one
   * @param scrape the current metrics text
   */
  public MetricsServer(int port, Supplier<String> scrape) throws IOException {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0..65535, got " + port);
    }
    server = HttpServer.create(new InetSocketAddress(port), 0);
    server.createContext(MetricsPorts.METRICS_PATH, ex -> answer(ex, 200, TEXT_FORMAT, scrape.get()));
    server.createContext(MetricsPorts.HEALTH_PATH, ex -> {
      boolean ok = ready.get();
      answer(ex, ok ? 200 : 503, "text/plain; charset=utf-8", ok ? "ok\n" : "starting\n");
    });
    // Scrapes must not queue behind each other when one is slow (a GC pause, a large registry).
    server.setExecutor(Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "metrics-http");
      t.setDaemon(true);
      return t;
    }));
    server.start();
    LOG.info("metrics on port {} ({} and {})", port(), MetricsPorts.METRICS_PATH, MetricsPorts.HEALTH_PATH);
  }

  /** Starts a server unless {@code port} is {@link MetricsPorts#OFF}; null when off. */
  public static MetricsServer startUnlessOff(int port, Supplier<String> scrape) throws IOException {
    if (port == MetricsPorts.OFF) {
      return null;
    }
    try {
      return new MetricsServer(port, scrape);
    } catch (java.net.BindException e) {
      throw new IllegalArgumentException(MetricsPorts.FLAG + " " + port + ": the port is already in use (another"
          + " process listens there); choose another, 0 for any free port, or -1 for no metrics", e);
    }
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** From now on {@code /healthz} answers 200. */
  public void ready() {
    ready.set(true);
  }

  private static void answer(HttpExchange ex, int status, String type, String body) throws IOException {
    try (ex) {
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", type);
      boolean head = "HEAD".equals(ex.getRequestMethod());
      ex.sendResponseHeaders(status, head ? -1 : b.length);
      if (!head) {
        try (OutputStream o = ex.getResponseBody()) {
          o.write(b);
        }
      }
    }
  }

  /**
   * Keep answering for this long when closed, so that a scrape after the run's last step still
   * sees its final values (a short run can otherwise end between two scrapes).
   */
  public void lingerOnClose(java.time.Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException(MetricsPorts.LINGER_FLAG + " must be >= 0 seconds, got " + d.toMillis() / 1e3);
    }
    linger = d;
  }

  @Override
  public void close() {
    if (!linger.isZero()) {
      try {
        Thread.sleep(linger.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }
}
