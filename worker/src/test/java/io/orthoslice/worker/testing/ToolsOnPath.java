package io.orthoslice.worker.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * External programs that tests check the project against (Prometheus, promtool, docker-compose).
 * Outside CI a missing one skips the test with the command that installs it; in CI ({@code CI=true},
 * set by .ci/run, which installs them) a missing one fails the test.
 */
public final class ToolsOnPath {

  private ToolsOnPath() {}

  /** The executable {@code name} on PATH, which Debian's {@code debianPackage} provides. */
  public static Path require(String name, String debianPackage) {
    Optional<Path> found = Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .map(d -> Path.of(d, name)).filter(Files::isExecutable).findFirst();
    String install = "apt-get install " + debianPackage;
    if (found.isEmpty() && "true".equals(System.getenv("CI"))) {
      fail(name + " is not on PATH; CI must install it: " + install);
    }
    assumeTrue(found.isPresent(), name + " is not on PATH; install it to run this test: " + install);
    return found.get();
  }

  /** What a finished command printed (stdout and stderr together) and its exit status. */
  public record Outcome(int exit, String output) {}

  /** Runs {@code command} with extra environment variables, killing it after {@code limit}. */
  public static Outcome run(List<String> command, Map<String, String> env, Duration limit)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      fail(String.join(" ", command) + " did not finish within " + limit);
    }
    return new Outcome(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
  }
}
