package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.worker.testing.ToolsOnPath;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's {@code prometheus} package) scrapes a local run of a coordinator and
 * two worker processes with the repository's own deploy/prometheus/prometheus.yml; the series
 * arrive with sane values and {@code promtool check metrics} finds nothing in any endpoint's text.
 */
class PrometheusScrapeTest {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  @Timeout(300)
  void coordinatorAndBothWorkersReachPrometheusWithSaneValuesAndLintCleanText(@TempDir Path dir) throws Exception {
    Path prometheus = ToolsOnPath.require("prometheus", "prometheus");
    Path promtool = ToolsOnPath.require("promtool", "prometheus");
    int base = consecutiveFreePorts(3);
    int web = consecutiveFreePorts(1);
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(config, PrometheusConfig.pointedAt(Files.readString(repoRoot().resolve(
        "deploy/prometheus/prometheus.yml")), base, List.of(base + 1, base + 2), "1s"));
    Process server = new ProcessBuilder(prometheus.toString(), "--config.file=" + config,
        "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + web)
        .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
    try {
      awaitOk("http://127.0.0.1:" + web + "/-/ready", Duration.ofSeconds(60), server, dir);
      // Prometheus hands new targets to its scrape loops only every few seconds after start; a run
      // launched before that would be over before its first scrape.
      awaitScrapeAttempts("http://127.0.0.1:" + web, 3, Duration.ofSeconds(60), server, dir);
      ByteArrayOutputStream shown = new ByteArrayOutputStream();
      List<String> coordinator = List.of("--rounds", "2", "--local-steps", "6", "--mode", "orthogonal", "--rank", "8",
          "--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--lr", "3e-3", "--eval-batches", "2",
          "--metrics-linger", "3");
      // Every process keeps serving a few seconds after the run, so the last scrape sees its end.
      LaunchConfig cfg = new LaunchConfig(2, dir.resolve("run"), coordinator, List.of("--metrics-linger", "3"), List.of(), 1,
          List.of("-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"), base);
      CompletableFuture<Launcher.Result> run = CompletableFuture.supplyAsync(() -> {
        try {
          return new Launcher(cfg, new PrintStream(shown, true, StandardCharsets.UTF_8)).run();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      // The processes exit with the run, so each endpoint's text is kept from its last answer.
      Map<Integer, String> lastText = new HashMap<>();
      while (!run.isDone()) {
        for (int port = base; port < base + 3; port++) {
          int p = port;
          get("http://127.0.0.1:" + port + "/metrics").ifPresent(t -> lastText.put(p, t));
        }
        Thread.sleep(500);
      }
      Launcher.Result r = run.get();
      String view = shown.toString(StandardCharsets.UTF_8);
      assertEquals(0, r.exitCode(), view);
      assertEquals(List.of(base, base + 1, base + 2), r.metricsPorts());
      Thread.sleep(2000); // one more scrape interval's worth of evaluation after the last samples

      String api = "http://127.0.0.1:" + web;
      Map<String, Double> up = byInstance(query(api, "max_over_time(up[10m])"));
      assertEquals(Map.of("127.0.0.1:" + base, 1.0, "127.0.0.1:" + (base + 1), 1.0, "127.0.0.1:" + (base + 2), 1.0),
          up, "every target was scraped at least once");

      Map<String, Double> workerLoss = byWorker(query(api,
          "last_over_time(orthoslice_train_loss{role=\"worker\"}[10m])"));
      assertEquals(List.of("worker-0", "worker-1"), List.copyOf(workerLoss.keySet()));
      workerLoss.values().forEach(v -> assertTrue(Double.isFinite(v) && v > 0 && v < 10, "loss " + v));
      Map<String, Double> coordLoss = byWorker(query(api,
          "last_over_time(orthoslice_train_loss{role=\"coordinator\"}[10m])"));
      assertEquals(1, coordLoss.size());
      coordLoss.values().forEach(v -> assertTrue(Double.isFinite(v) && v > 0 && v < 10, "loss " + v));
      double ppl = single(query(api, "last_over_time(orthoslice_validation_perplexity[10m])"));
      assertTrue(Double.isFinite(ppl) && ppl > 1 && ppl < 300, "validation perplexity " + ppl);
      assertEquals(2.0, single(query(api, "last_over_time(orthoslice_round_current{role=\"coordinator\"}[10m])")));
      assertEquals(2.0, single(query(api, "last_over_time(orthoslice_weights_version{role=\"coordinator\"}[10m])")));
      assertEquals(2.0, single(query(api, "max_over_time(orthoslice_workers_joined_total[10m])")));

      // Every worker's token counter was seen both before and after tokens were processed.
      Map<String, Double> minTokens = byWorker(query(api,
          "min_over_time(orthoslice_tokens_total{role=\"worker\"}[10m])"));
      Map<String, Double> maxTokens = byWorker(query(api,
          "max_over_time(orthoslice_tokens_total{role=\"worker\"}[10m])"));
      assertEquals(workerLoss.keySet(), maxTokens.keySet());
      for (String w : maxTokens.keySet()) {
        assertTrue(maxTokens.get(w) > minTokens.get(w), w + " tokens " + minTokens.get(w) + " -> " + maxTokens.get(w));
        // Workers linger after the run, so the last scrape holds every step's tokens.
        assertEquals(2 * 6 * 4 * 32.0, maxTokens.get(w), w + ": 2 rounds x 6 steps x 4 x 32 tokens");
      }
      assertEquals(2, byWorker(query(api, "max_over_time(orthoslice_step_duration_seconds_count[10m])")).size());
      assertFalse(byWorker(query(api, "last_over_time(jvm_memory_used_bytes{role=\"worker\",area=\"heap\"}[10m])"))
          .isEmpty());
      assertEquals(1, byWorker(query(api, "last_over_time(orthoslice_run_info{role=\"coordinator\",mode=\"orthogonal\","
          + "rank=\"8\",wire=\"f32\"}[10m])")).size());

      assertEquals(3, lastText.size(), "text from every endpoint: " + lastText.keySet());
      for (Map.Entry<Integer, String> e : lastText.entrySet()) {
        assertEquals("", PrometheusConfig.promtoolProblems(promtool, e.getValue(), dir),
            "promtool check metrics on port " + e.getKey());
      }
    } finally {
      server.destroy();
      if (!server.waitFor(10, TimeUnit.SECONDS)) {
        server.destroyForcibly();
      }
    }
  }

  private static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("deploy"))) {
      p = p.getParent();
    }
    assertNotNull(p, "no deploy/ above " + Path.of("").toAbsolutePath());
    return p;
  }

  private static int consecutiveFreePorts(int n) throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int first;
      try (ServerSocket s = new ServerSocket(0)) {
        first = s.getLocalPort();
      }
      boolean free = first + n <= 65535;
      for (int i = 1; i < n && free; i++) {
        try (ServerSocket s = new ServerSocket(first + i)) {
          free = true;
        } catch (IOException e) {
          free = false;
        }
      }
      if (free) {
        return first;
      }
    }
    throw new IOException("no " + n + " consecutive free ports");
  }

  private static Optional<String> get(String url) {
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5))
          .build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? Optional.of(r.body()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private static void awaitOk(String url, Duration limit, Process server, Path dir) throws Exception {
    long end = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < end) {
      if (get(url).isPresent()) {
        return;
      }
      if (!server.isAlive()) {
        fail("prometheus exited: " + Files.readString(dir.resolve("prometheus.log")));
      }
      Thread.sleep(200);
    }
    fail(url + " not ready after " + limit + ": " + Files.readString(dir.resolve("prometheus.log")));
  }

  /** Waits until Prometheus has tried every one of its {@code n} targets (they are down until the launch). */
  private static void awaitScrapeAttempts(String api, int n, Duration limit, Process server, Path dir)
      throws Exception {
    long end = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < end) {
      Optional<String> body = get(api + "/api/v1/targets?state=active");
      if (body.isPresent()) {
        JsonNode targets = JSON.readTree(body.get()).get("data").get("activeTargets");
        int tried = 0;
        for (JsonNode t : targets) {
          tried += t.get("lastScrape").asText().startsWith("0001-") ? 0 : 1;
        }
        if (tried == n && targets.size() == n) {
          return;
        }
      }
      if (!server.isAlive()) {
        fail("prometheus exited: " + Files.readString(dir.resolve("prometheus.log")));
      }
      Thread.sleep(200);
    }
    fail("prometheus did not scrape its " + n + " targets within " + limit + ": "
        + Files.readString(dir.resolve("prometheus.log")));
  }

  private static JsonNode query(String api, String promql) throws IOException {
    String body = get(api + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))
        .orElseThrow(() -> new AssertionError("query failed: " + promql));
    JsonNode n = JSON.readTree(body);
    assertEquals("success", n.get("status").asText(), body);
    return n.get("data").get("result");
  }

  private static Map<String, Double> byInstance(JsonNode result) {
    return by(result, "instance");
  }

  private static Map<String, Double> byWorker(JsonNode result) {
    return by(result, "worker");
  }

  private static Map<String, Double> by(JsonNode result, String label) {
    Map<String, Double> m = new TreeMap<>();
    for (JsonNode s : result) {
      JsonNode l = s.get("metric").get(label);
      m.put(l == null ? "" : l.asText(), Double.parseDouble(s.get("value").get(1).asText()));
    }
    return m;
  }

  private static double single(JsonNode result) {
    assertEquals(1, result.size(), result.toString());
    return Double.parseDouble(result.get(0).get("value").get(1).asText());
  }
}
