package io.orthoslice.common.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class MetricsServerTest {

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static HttpResponse<String> get(int port, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void healthzIs503UntilReadyThen200Ok() throws Exception {
    try (MetricsServer s = new MetricsServer(0, () -> "")) {
      assertEquals(503, get(s.port(), "/healthz").statusCode());
      s.ready();
      HttpResponse<String> r = get(s.port(), "/healthz");
      assertEquals(200, r.statusCode());
      assertEquals("ok\n", r.body());
    }
  }

  @Test
  void metricsServesTheRegistrysTextWithRoleTagAndPrefixedNames() throws Exception {
    PrometheusMeterRegistry registry = ProcessMeters.create("worker", "worker", "w-0");
    Counter.builder(ProcessMeters.PREFIX + "tokens").description("test").register(registry).increment(42);
    try (MetricsServer s = new MetricsServer(0, registry::scrape)) {
      HttpResponse<String> r = get(s.port(), "/metrics");
      assertEquals(200, r.statusCode());
      assertEquals(MetricsServer.TEXT_FORMAT, r.headers().firstValue("Content-Type").orElseThrow());
      assertTrue(r.body().contains("orthoslice_tokens_total{role=\"worker\",worker=\"w-0\"} 42.0"), r.body());
      assertTrue(r.body().contains("jvm_memory_used_bytes{"), "JVM meters are bound");
      assertTrue(r.body().contains("system_cpu_logical_processors{"), "renamed for promtool");
      assertTrue(!r.body().contains("process_cpu_time_ns"), "denied for promtool");
    }
  }

  @Test
  void portMinusOneStartsNothingAndOddTagListsAreRefused() throws Exception {
    assertNull(MetricsServer.startUnlessOff(MetricsPorts.OFF, () -> ""));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ProcessMeters.create("worker", "worker"));
    assertEquals("extraTags must be name/value pairs, got 1 strings", e.getMessage());
  }
}
