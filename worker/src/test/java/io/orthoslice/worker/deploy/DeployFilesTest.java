package io.orthoslice.worker.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.orthoslice.common.metrics.MetricsPorts;
import io.orthoslice.coordinator.cli.CoordinatorMain;
import io.orthoslice.coordinator.CoordinatorMetrics;
import io.orthoslice.worker.WorkerMetrics;
import io.orthoslice.worker.cli.OrthosliceCli;
import io.orthoslice.worker.testing.ToolsOnPath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;
import picocli.CommandLine;

/**
 * Every file under deploy/ parses, and its ports, environment variable names, flags and metric
 * names are the ones the code defines (the constants and the picocli options themselves).
 */
class DeployFilesTest {

  private static final Path DEPLOY = repoRoot().resolve("deploy");
  private static final Set<String> COORDINATOR_FLAGS = CoordinatorMain.commandLine().getCommandSpec().optionsMap()
      .keySet();
  private static final Set<String> WORKER_FLAGS = OrthosliceCli.commandLine().getSubcommands().get("worker")
      .getCommandSpec().optionsMap().keySet();
  private static final Pattern METRIC = Pattern.compile("\\b(orthoslice_[a-z0-9_]+)");

  @Test
  void everyFileUnderDeployParsesAndIsChecked() throws Exception {
    List<Path> files;
    try (Stream<Path> s = Files.walk(DEPLOY)) {
      files = s.filter(Files::isRegularFile).sorted().toList();
    }
    assertTrue(files.size() >= 11, "files under deploy/: " + files);
    for (Path f : files) {
      String name = f.getFileName().toString();
      if (name.endsWith(".yml") || name.endsWith(".yaml")) {
        List<Object> docs = yamlDocuments(f);
        assertFalse(docs.isEmpty(), f + " has no YAML document");
        docs.forEach(d -> assertTrue(d instanceof Map, f + ": every document is a mapping"));
      } else if (name.endsWith(".json")) {
        assertNotNull(new ObjectMapper().readTree(f.toFile()), f.toString());
      } else if (name.endsWith(".sh")) {
        assertTrue(Files.isExecutable(f), f + " is not executable");
        ToolsOnPath.Outcome o = ToolsOnPath.run(List.of("bash", "-n", f.toString()), Map.of(), Duration.ofSeconds(30));
        assertEquals(0, o.exit(), f + " does not parse: " + o.output());
      } else if (name.endsWith(".md")) {
        checkMarkdown(f);
      } else if (!name.equals("Dockerfile")) {
        fail("no check covers " + f + "; add one to " + getClass().getSimpleName());
      }
    }
  }

  @Test
  void localPrometheusScrapesTheDefaultMetricsPorts() throws IOException {
    assertEquals(List.of(List.of("localhost:" + MetricsPorts.COORDINATOR), List.of("localhost:" + MetricsPorts.WORKER,
            "localhost:" + (MetricsPorts.WORKER + 1), "localhost:" + (MetricsPorts.WORKER + 2))),
        targets(DEPLOY.resolve("prometheus/prometheus.yml")));
    assertEquals(List.of(List.of("coordinator:" + MetricsPorts.COORDINATOR), List.of("worker-0:" + MetricsPorts.WORKER,
            "worker-1:" + (MetricsPorts.WORKER + 1))),
        targets(DEPLOY.resolve("prometheus/prometheus-compose.yml")));
  }

  @Test
  @SuppressWarnings("unchecked")
  void composeServicesUseTheCodesFlagsPortsAndTokenVariable() throws IOException {
    Map<String, Object> compose = (Map<String, Object>) yamlDocuments(DEPLOY.resolve("docker-compose.yml")).get(0);
    Map<String, Map<String, Object>> services = (Map<String, Map<String, Object>>) compose.get("services");
    List<String> coordinator = (List<String>) services.get("coordinator").get("command");
    assertEquals("coordinator", coordinator.get(0));
    checkFlags(coordinator.subList(1, coordinator.size()), COORDINATOR_FLAGS, "compose coordinator");
    assertEquals("" + CoordinatorMain.DEFAULT_PORT, after(coordinator, "--port"));
    assertEquals("" + MetricsPorts.COORDINATOR, after(coordinator, MetricsPorts.FLAG));
    // A restarted coordinator continues from its checkpoints in the volume (issue 30).
    assertTrue(coordinator.contains("--resume"), coordinator.toString());
    assertEquals("on-failure", services.get("coordinator").get("restart"));
    assertTrue(((List<String>) services.get("coordinator").get("volumes")).stream()
        .anyMatch(v -> after(coordinator, "--output").startsWith(v.substring(v.indexOf(':') + 1))), coordinator.toString());
    for (int i = 0; i < 2; i++) {
      List<String> worker = (List<String>) services.get("worker-" + i).get("command");
      assertEquals("worker", worker.get(0));
      checkFlags(worker.subList(1, worker.size()), WORKER_FLAGS, "compose worker-" + i);
      assertEquals("coordinator:" + CoordinatorMain.DEFAULT_PORT, after(worker, "--coordinator"));
      assertEquals("" + (MetricsPorts.WORKER + i), after(worker, MetricsPorts.FLAG));
      assertEquals("worker-" + i, after(worker, "--name"));
    }
    Map<String, Object> app = (Map<String, Object>) compose.get("x-app");
    assertTrue(((Map<String, Object>) app.get("environment")).containsKey(CoordinatorMain.TOKEN_ENV));
  }

  @Test
  @SuppressWarnings("unchecked")
  void kubernetesManifestsUseTheCodesFlagsPortsProbesAndTokenSecret() throws IOException {
    List<Map<String, Object>> docs = new ArrayList<>();
    // The files of deploy/k8s itself: the Deployment + StatefulSet variant (k8s/jobset is the other one).
    try (Stream<Path> s = Files.list(DEPLOY.resolve("k8s"))) {
      for (Path f : s.filter(Files::isRegularFile).sorted().toList()) {
        yamlDocuments(f).forEach(d -> docs.add((Map<String, Object>) d));
      }
    }
    Map<String, Object> configMap = only(docs, "ConfigMap");
    Map<String, String> data = (Map<String, String>) configMap.get("data");
    checkFlags(Arrays.asList(data.get("COORDINATOR_ARGS").split(" ")), COORDINATOR_FLAGS, "COORDINATOR_ARGS");
    checkFlags(Arrays.asList(data.get("WORKER_ARGS").split(" ")), WORKER_FLAGS, "WORKER_ARGS");
    Map<String, Object> secret = only(docs, "Secret");
    assertEquals(Set.of(CoordinatorMain.TOKEN_ENV), ((Map<String, Object>) secret.get("stringData")).keySet());

    Map<String, Object> coordinator = container(only(docs, "Deployment"));
    Map<String, Object> worker = container(only(docs, "StatefulSet"));
    checkContainer(only(docs, "Deployment"), coordinator, COORDINATOR_FLAGS, MetricsPorts.COORDINATOR);
    checkContainer(only(docs, "StatefulSet"), worker, WORKER_FLAGS, MetricsPorts.WORKER);
    List<String> coordinatorArgs = words(coordinator);
    assertEquals("" + CoordinatorMain.DEFAULT_PORT, after(coordinatorArgs, "--port"));
    // A rescheduled coordinator continues from its checkpoints, which live on a claim, not in the pod.
    assertTrue(coordinatorArgs.contains("--resume"), coordinatorArgs.toString());
    Map<String, Object> podSpec = (Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>) only(docs,
        "Deployment").get("spec")).get("template")).get("spec");
    String claim = (String) ((Map<String, Object>) ((List<Map<String, Object>>) podSpec.get("volumes")).get(0)
        .get("persistentVolumeClaim")).get("claimName");
    assertEquals(claim, ((Map<String, Object>) only(docs, "PersistentVolumeClaim").get("metadata")).get("name"));
    assertEquals("orthoslice-coordinator:" + CoordinatorMain.DEFAULT_PORT, after(words(worker), "--coordinator"));
    Map<String, Object> service = docs.stream().filter(d -> "Service".equals(d.get("kind"))
        && "orthoslice-coordinator".equals(((Map<String, Object>) d.get("metadata")).get("name"))).findFirst()
        .orElseThrow();
    List<Object> servicePorts = ((List<Map<String, Object>>) ((Map<String, Object>) service.get("spec")).get("ports"))
        .stream().map(p -> p.get("port")).toList();
    assertEquals(List.of(CoordinatorMain.DEFAULT_PORT, MetricsPorts.COORDINATOR), servicePorts);
    Map<String, Object> requests = (Map<String, Object>) ((Map<String, Object>) worker.get("resources")).get("requests");
    assertEquals(1, requests.get("nvidia.com/gpu"));
  }

  /**
   * deploy/k8s/jobset: the coordinator is a one-pod leader started first, keeps its checkpoints on a claim that
   * only it mounts and always resumes; the workers find it by its JobSet DNS name. Each container's whole
   * command line, with the ConfigMap's arguments put in, parses with the real picocli specs (unknown or
   * repeated flags and bad values fail here, not in the cluster).
   */
  @Test
  @SuppressWarnings("unchecked")
  void jobSetStartsTheCoordinatorFirstOnItsClaimAndTheWorkersFindItByItsStableName() throws IOException {
    List<Map<String, Object>> docs = new ArrayList<>();
    yamlDocuments(DEPLOY.resolve("k8s/jobset/jobset.yaml")).forEach(d -> docs.add((Map<String, Object>) d));
    Map<String, String> run = (Map<String, String>) ((Map<String, Object>) yamlDocuments(
        DEPLOY.resolve("k8s/configmap.yaml")).get(0)).get("data");
    String secretName = (String) ((Map<String, Object>) ((Map<String, Object>) yamlDocuments(
        DEPLOY.resolve("k8s/secret.yaml")).get(0)).get("metadata")).get("name");

    Map<String, Object> jobSet = only(docs, "JobSet");
    assertEquals("jobset.x-k8s.io/v1alpha2", jobSet.get("apiVersion"));
    String name = (String) ((Map<String, Object>) jobSet.get("metadata")).get("name");
    Map<String, Object> spec = (Map<String, Object>) jobSet.get("spec");
    assertEquals(Map.of("startupPolicyOrder", "InOrder"), spec.get("startupPolicy"));
    Map<String, Object> network = (Map<String, Object>) spec.get("network");
    assertEquals(true, network.get("enableDNSHostnames"));
    String subdomain = (String) network.getOrDefault("subdomain", name);
    assertTrue((Integer) ((Map<String, Object>) spec.get("failurePolicy")).get("maxRestarts") >= 1, spec.toString());
    List<Map<String, Object>> jobs = (List<Map<String, Object>>) spec.get("replicatedJobs");
    // InOrder starts them as listed: the coordinator first.
    assertEquals(List.of("coordinator", "worker"), jobs.stream().map(j -> j.get("name")).toList());

    Map<String, Object> leader = jobs.get(0);
    assertEquals(1, leader.get("replicas"));
    Map<String, Object> leaderJob = (Map<String, Object>) ((Map<String, Object>) leader.get("template")).get("spec");
    assertEquals(1, leaderJob.get("completions"));
    assertEquals(1, leaderJob.get("parallelism"));
    Map<String, Object> leaderPod = (Map<String, Object>) leaderJob.get("template");
    Map<String, Object> coordinator = podContainer(leaderPod);
    checkPod("JobSet coordinator", leaderPod, coordinator, COORDINATOR_FLAGS, MetricsPorts.COORDINATOR);
    List<String> coordinatorArgs = commandLine(coordinator, run);
    CommandLine.ParseResult parsed = CoordinatorMain.commandLine().parseArgs(coordinatorArgs.toArray(String[]::new));
    assertTrue(parsed.hasMatchedOption("--resume"), coordinatorArgs.toString());
    assertTrue((Integer) parsed.matchedOptionValue("--checkpoint-every", 0) >= 1, coordinatorArgs.toString());
    int port = parsed.matchedOptionValue("--port", CoordinatorMain.DEFAULT_PORT);
    assertEquals(CoordinatorMain.DEFAULT_PORT, port);
    assertTokenFromSecret(coordinator, secretName);

    // --output lies inside the mount of a claim declared beside the JobSet, and ReadWriteOnce: the leader's alone.
    Path output = Path.of(after(coordinatorArgs, "--output"));
    Map<String, Object> mount = ((List<Map<String, Object>>) coordinator.get("volumeMounts")).stream()
        .filter(m -> output.startsWith(Path.of((String) m.get("mountPath")))).findFirst()
        .orElseThrow(() -> new AssertionError("--output " + output + " is on no volume mount"));
    Map<String, Object> volume = ((List<Map<String, Object>>) ((Map<String, Object>) leaderPod.get("spec"))
        .get("volumes")).stream().filter(v -> v.get("name").equals(mount.get("name"))).findFirst().orElseThrow();
    String claim = (String) ((Map<String, Object>) volume.get("persistentVolumeClaim")).get("claimName");
    Map<String, Object> pvc = only(docs, "PersistentVolumeClaim");
    assertEquals(claim, ((Map<String, Object>) pvc.get("metadata")).get("name"));
    assertEquals(List.of("ReadWriteOnce"), ((Map<String, Object>) pvc.get("spec")).get("accessModes"));

    Map<String, Object> workers = jobs.get(1);
    Map<String, Object> workerJob = (Map<String, Object>) ((Map<String, Object>) workers.get("template")).get("spec");
    Map<String, Object> workerPod = (Map<String, Object>) workerJob.get("template");
    assertEquals(null, ((Map<String, Object>) workerPod.get("spec")).get("volumes"), "only the coordinator mounts");
    int pods = (Integer) workers.get("replicas") * (Integer) workerJob.get("parallelism");
    assertEquals(workerJob.get("completions"), workerJob.get("parallelism"));
    assertEquals(Integer.parseInt(run.get("WORKERS")), pods);
    assertEquals(run.get("WORKERS"), after(coordinatorArgs, "--workers"));
    Map<String, Object> worker = podContainer(workerPod);
    checkPod("JobSet worker", workerPod, worker, WORKER_FLAGS, MetricsPorts.WORKER);
    List<String> workerArgs = new ArrayList<>(List.of("worker"));
    workerArgs.addAll(commandLine(worker, run));
    OrthosliceCli.commandLine().parseArgs(workerArgs.toArray(String[]::new));
    // <jobset>-<replicatedJob>-<jobIndex>-<podIndex>.<subdomain>, on the coordinator's --port.
    assertEquals(name + "-coordinator-0-0." + subdomain + ":" + port, after(workerArgs, "--coordinator"));
    assertTokenFromSecret(worker, secretName);
    Map<String, Object> resources = (Map<String, Object>) worker.get("resources");
    assertEquals(1, ((Map<String, Object>) resources.get("requests")).get("nvidia.com/gpu"));
    assertEquals(1, ((Map<String, Object>) resources.get("limits")).get("nvidia.com/gpu"));
  }

  @Test
  void prometheusConfigsPassPromtool() throws Exception {
    Path promtool = ToolsOnPath.require("promtool", "prometheus");
    try (Stream<Path> files = Files.list(DEPLOY.resolve("prometheus"))) {
      List<Path> configs = files.filter(f -> f.toString().endsWith(".yml")).sorted().toList();
      assertEquals(2, configs.size(), "prometheus configs: " + configs);
      for (Path f : configs) {
        ToolsOnPath.Outcome o = ToolsOnPath.run(List.of(promtool.toString(), "check", "config", f.toString()),
            Map.of(), Duration.ofSeconds(30));
        assertEquals(0, o.exit(), f + ": " + o.output());
      }
    }
  }

  /** docker-compose (Debian's, no engine needed) validates the file against the Compose schema. */
  @Test
  void composeFilePassesDockerComposeConfig() throws Exception {
    Path compose = ToolsOnPath.require("docker-compose", "docker-compose");
    Path file = DEPLOY.resolve("docker-compose.yml");
    ToolsOnPath.Outcome o = ToolsOnPath.run(List.of(compose.toString(), "-f", file.toString(), "config", "-q"),
        Map.of("ORTHOSLICE_TOKEN", "test-token"), Duration.ofSeconds(60));
    assertEquals(0, o.exit(), o.output());
    // Without the token the file refuses to start, naming the variable.
    ToolsOnPath.Outcome noToken = ToolsOnPath.run(List.of("env", "-u", "ORTHOSLICE_TOKEN", compose.toString(), "-f",
        file.toString(), "config", "-q"), Map.of(), Duration.ofSeconds(60));
    assertTrue(noToken.exit() != 0 && noToken.output().contains("ORTHOSLICE_TOKEN"), noToken.output());
  }

  @Test
  void dockerfileExposesTheDefaultPorts() throws IOException {
    String expose = Files.readAllLines(DEPLOY.resolve("Dockerfile")).stream().filter(l -> l.startsWith("EXPOSE"))
        .findFirst().orElseThrow();
    assertEquals("EXPOSE " + CoordinatorMain.DEFAULT_PORT + " " + MetricsPorts.COORDINATOR + " " + MetricsPorts.WORKER,
        expose);
  }

  @Test
  @SuppressWarnings("unchecked")
  void dashboardQueriesOnlyMetricsTheProcessesExportAndItsDatasourceIsProvisioned() throws IOException {
    PrometheusMeterRegistry coordinator = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new CoordinatorMetrics(coordinator);
    PrometheusMeterRegistry worker = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new WorkerMetrics(worker);
    io.orthoslice.common.metrics.GpuMemoryMeters.bind(worker, "gpu0",
        () -> new java.lang.management.MemoryUsage(-1, 1, 1, 2)); // what a worker on a GPU adds
    Set<String> exported = new TreeSet<>();
    Matcher m = METRIC.matcher(coordinator.scrape() + worker.scrape());
    while (m.find()) {
      exported.add(m.group(1));
    }
    JsonNode dash = new ObjectMapper().readTree(DEPLOY.resolve("grafana/dashboards/orthoslice.json").toFile());
    Set<String> used = new TreeSet<>();
    for (JsonNode panel : dash.get("panels")) {
      for (JsonNode t : panel.get("targets")) {
        Matcher q = METRIC.matcher(t.get("expr").asText());
        while (q.find()) {
          used.add(q.group(1));
        }
      }
    }
    assertTrue(used.size() >= 10, "dashboard metrics: " + used);
    Set<String> missing = new TreeSet<>(used);
    missing.removeAll(exported);
    assertEquals(Set.of(), missing, "dashboard metrics not exported; exported: " + exported);
    Map<String, Object> ds = (Map<String, Object>) yamlDocuments(DEPLOY.resolve(
        "grafana/provisioning/datasources/prometheus.yml")).get(0);
    String uid = (String) ((List<Map<String, Object>>) ds.get("datasources")).get(0).get("uid");
    dash.get("panels").forEach(p -> assertEquals(uid, p.get("datasource").get("uid").asText()));
  }

  // ---- helpers ----

  private static final Pattern REPO_PATH = Pattern.compile("\\b((?:deploy|docs)/[A-Za-z0-9_./-]+[A-Za-z0-9_])");
  private static final Pattern ORTHOSLICE_LINE = Pattern.compile("\\./orthoslice (\\w+)([^\\n`]*)");

  /** Every repository path a document names exists, and every orthoslice command it shows takes its flags. */
  private static void checkMarkdown(Path f) throws IOException {
    String text = Files.readString(f);
    Path root = DEPLOY.getParent();
    Matcher m = REPO_PATH.matcher(text);
    while (m.find()) {
      assertTrue(Files.exists(root.resolve(m.group(1))), f + " names " + m.group(1) + ", which does not exist");
    }
    Matcher c = ORTHOSLICE_LINE.matcher(text);
    while (c.find()) {
      picocli.CommandLine sub = OrthosliceCli.commandLine().getSubcommands().get(c.group(1));
      assertNotNull(sub, f + ": orthoslice has no command " + c.group(1));
      checkFlags(Arrays.asList(c.group(2).trim().split("\\s+")), sub.getCommandSpec().optionsMap().keySet(),
          f + " (orthoslice " + c.group(1) + ")");
    }
  }

  @SuppressWarnings("unchecked")
  private static void checkContainer(Map<String, Object> workload, Map<String, Object> c, Set<String> flags,
      int metricsPort) {
    String what = ((Map<String, Object>) workload.get("metadata")).get("name").toString();
    checkPod(what, (Map<String, Object>) ((Map<String, Object>) workload.get("spec")).get("template"), c, flags,
        metricsPort);
  }

  /** A pod template's scrape annotations, its container's flags, metrics port, probe and token variable. */
  @SuppressWarnings("unchecked")
  private static void checkPod(String what, Map<String, Object> template, Map<String, Object> c, Set<String> flags,
      int metricsPort) {
    List<String> args = words(c);
    checkFlags(args, flags, what);
    assertEquals("" + metricsPort, after(args, MetricsPorts.FLAG), what);
    Map<String, String> ann = (Map<String, String>) ((Map<String, Object>) template.get("metadata")).get("annotations");
    assertEquals(Map.of("prometheus.io/scrape", "true", "prometheus.io/port", "" + metricsPort,
        "prometheus.io/path", MetricsPorts.METRICS_PATH), ann, what);
    Map<String, Object> probe = (Map<String, Object>) ((Map<String, Object>) c.get("readinessProbe")).get("httpGet");
    assertEquals(Map.of("path", MetricsPorts.HEALTH_PATH, "port", metricsPort), probe, what);
    List<String> env = ((List<Map<String, Object>>) c.get("env")).stream().map(e -> (String) e.get("name")).toList();
    assertTrue(env.contains(CoordinatorMain.TOKEN_ENV), what + " env " + env);
  }

  /** The orthoslice command line inside a container's {@code sh -c} args, split at spaces. */
  @SuppressWarnings("unchecked")
  private static List<String> words(Map<String, Object> container) {
    String line = ((List<String>) container.get("args")).get(0);
    List<String> w = Arrays.asList(line.split("\\s+"));
    int start = w.indexOf("/app/orthoslice");
    assertTrue(start >= 0, "runs /app/orthoslice: " + line);
    return w.subList(start + 2, w.size()).stream().filter(s -> !s.startsWith("$")).toList();
  }

  /**
   * The arguments after {@code /app/orthoslice <command>} in a container's {@code sh -c} line, with each
   * {@code $VAR} replaced by the ConfigMap's words ({@code $HOSTNAME}: a pod's name).
   */
  @SuppressWarnings("unchecked")
  private static List<String> commandLine(Map<String, Object> container, Map<String, String> configMap) {
    String line = ((List<String>) container.get("args")).get(0);
    List<String> w = Arrays.asList(line.split("\\s+"));
    int start = w.indexOf("/app/orthoslice");
    assertTrue(start >= 0, "runs /app/orthoslice: " + line);
    List<String> out = new ArrayList<>();
    for (String word : w.subList(start + 2, w.size())) {
      if (!word.startsWith("$")) {
        out.add(word);
      } else if (word.equals("$HOSTNAME")) {
        out.add("orthoslice-worker-0-0");
      } else {
        String value = configMap.get(word.substring(1));
        assertNotNull(value, word + " is not in the ConfigMap " + configMap.keySet());
        out.addAll(Arrays.asList(value.trim().split("\\s+")));
      }
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static void assertTokenFromSecret(Map<String, Object> container, String secret) {
    Map<String, Object> env = ((List<Map<String, Object>>) container.get("env")).stream()
        .filter(e -> CoordinatorMain.TOKEN_ENV.equals(e.get("name"))).findFirst().orElseThrow();
    assertEquals(Map.of("secretKeyRef", Map.of("name", secret, "key", CoordinatorMain.TOKEN_ENV)), env.get("valueFrom"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> container(Map<String, Object> workload) {
    return podContainer((Map<String, Object>) ((Map<String, Object>) workload.get("spec")).get("template"));
  }

  /** The one container of a pod template. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> podContainer(Map<String, Object> template) {
    List<Map<String, Object>> cs = (List<Map<String, Object>>) ((Map<String, Object>) template.get("spec"))
        .get("containers");
    assertEquals(1, cs.size());
    return cs.get(0);
  }

  private static Map<String, Object> only(List<Map<String, Object>> docs, String kind) {
    List<Map<String, Object>> k = docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
    assertEquals(1, k.size(), "one " + kind);
    return k.get(0);
  }

  private static void checkFlags(List<String> args, Set<String> known, String where) {
    for (String a : args) {
      if (a.startsWith("--")) {
        String flag = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
        assertTrue(known.contains(flag), where + ": " + flag + " is not an option of the command");
      }
    }
  }

  private static String after(List<String> args, String flag) {
    int i = args.indexOf(flag);
    assertTrue(i >= 0 && i + 1 < args.size(), flag + " in " + args);
    return args.get(i + 1);
  }

  @SuppressWarnings("unchecked")
  private static List<List<String>> targets(Path prometheusYml) throws IOException {
    Map<String, Object> cfg = (Map<String, Object>) yamlDocuments(prometheusYml).get(0);
    List<List<String>> out = new ArrayList<>();
    for (Map<String, Object> job : (List<Map<String, Object>>) cfg.get("scrape_configs")) {
      assertEquals(MetricsPorts.METRICS_PATH, job.get("metrics_path"), prometheusYml.toString());
      for (Map<String, Object> sc : (List<Map<String, Object>>) job.get("static_configs")) {
        out.add((List<String>) sc.get("targets"));
      }
    }
    return out;
  }

  private static List<Object> yamlDocuments(Path f) throws IOException {
    List<Object> docs = new ArrayList<>();
    for (Object d : new Yaml().loadAll(Files.readString(f))) {
      if (d != null) {
        docs.add(d);
      }
    }
    return docs;
  }

  private static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("deploy"))) {
      p = p.getParent();
    }
    assertNotNull(p, "no deploy/ above the working directory");
    return p;
  }
}
