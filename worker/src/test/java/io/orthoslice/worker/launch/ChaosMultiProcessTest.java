package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chaos over one run (tiny preset, 3 workers and a spare, 6 rounds of 20 local steps, loopback, moments drawn from
 * a fixed seed), healed by nobody but this test acting as the supervisor (compose's {@code restart: on-failure},
 * launch's restarts): a killed process is started again at once, the coordinator with {@code --resume}.
 *
 * <ol>
 *   <li>Round 2: SIGKILL of a random participant at a random moment, then of the coordinator later in the same
 *       round, before it merged.
 *   <li>Round 3 or 4 (drawn): SIGKILL of a random participant at a random moment.
 *   <li>Round 6: SIGSTOP of a random participant mid-training (dropped after the heartbeat time-out; the round
 *       merges without it), 3 s later SIGSTOP of the spare in its poll (a member still when the run finishes, so the
 *       coordinator drains after its final checkpoint), then SIGKILL of the coordinator at a random moment after the
 *       run finished; the restarted coordinator finds the run finished. SIGCONT of the spare, then, once no
 *       coordinator runs any more, of the stopped participant: issue 30's "stopped past the end", which must exit 0
 *       within 5 s (it learned the end from its presence stream, whose last message waited in its socket).
 * </ol>
 *
 * <p>Which kills keep bit-identity, and why. The coordinator's crashes lose nothing: it resumes from its checkpoint,
 * trains the round in flight again, and the workers' data positions and slices come from it. The worker killed in
 * round 2 costs nothing either, because the coordinator's crash voided that round and it was trained again whole. So
 * the checkpoint after the round before the first lossy kill is bit-identical to the undisturbed run's (checked). A
 * worker killed or stopped mid-round loses its slot of that round (the round merges the others' updates, by design),
 * so from round 3 or 4 on the weights differ; the final perplexity is checked within 10% of the undisturbed run's.
 * The kill after the final checkpoint changes nothing: the checkpoint stays, every process exits 0, and summary.json
 * keeps all six rounds across the three coordinator processes.
 */
class ChaosMultiProcessTest {

  private static final int ROUNDS = 6;
  private static final int LOCAL_STEPS = 20;
  private static final Pattern OPEN = Pattern.compile("round (\\d+) open: \\d+ participants \\[(.*)]");

  /** A worker process: its --name, its log and the process. */
  private record Member(String name, Path logFile, Process process) {
    String log() throws java.io.IOException {
      return Files.isRegularFile(logFile) ? Files.readString(logFile) : "";
    }
  }

  @Test
  @Timeout(240)
  void theRunFinishesByItselfThroughWorkerAndCoordinatorKills(@TempDir Path dir) throws Exception {
    Random chaos = new Random(30);
    Outcome calm = run(dir.resolve("calm"), null);
    Outcome disturbed = run(dir.resolve("chaos"), chaos);
    int lossy = disturbed.lossyRound;
    String step = "step-%08d";
    assertEquals(calm.checkpoints.get(String.format(step, (lossy - 1) * LOCAL_STEPS)),
        disturbed.checkpoints.get(String.format(step, (lossy - 1) * LOCAL_STEPS)),
        "the weights after round " + (lossy - 1) + " differ: a coordinator crash (and the worker killed in the round it"
            + " voided) must lose nothing");
    System.out.printf("final validation perplexity: undisturbed %.4f, chaos %.4f (a slot of round %d lost)%n",
        calm.perplexity, disturbed.perplexity, lossy);
    assertTrue(Math.abs(disturbed.perplexity - calm.perplexity) / calm.perplexity < 0.10,
        "final validation perplexity " + disturbed.perplexity + " after the chaos vs " + calm.perplexity);
  }

  /** The SHA-256 of every checkpoint's weights by directory name, the final perplexity, the lossy round. */
  private record Outcome(java.util.Map<String, String> checkpoints, double perplexity, int lossyRound) {}

  private static Outcome run(Path dir, Random chaos) throws Exception {
    int port = CoordinatorCrashMultiProcessTest.freePort();
    Files.createDirectories(dir);
    Path output = dir.resolve("coordinator");
    List<String> coordinatorArgs = List.of(Launcher.COORDINATOR_MAIN, "--port", Integer.toString(port), "--workers",
        "3", "--min-workers", "2", "--spare-workers", "1", "--rounds", "" + ROUNDS, "--local-steps", "" + LOCAL_STEPS,
        "--rank", "8", "--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--eval-batches", "1",
        "--metrics-port", "-1", "--checkpoint-every", "1", "--keep-checkpoints", "10", "--heartbeat-timeout", "6",
        "--output", output.toString());
    List<Process> all = new ArrayList<>();
    List<String> history = new CopyOnWriteArrayList<>(); // every coordinator's lines, for failure messages
    try {
      List<String> lines = new CopyOnWriteArrayList<>();
      Process coordinator = CoordinatorCrashMultiProcessTest.start(all, coordinatorArgs,
          CoordinatorCrashMultiProcessTest.LOGBACK, lines);
      List<Member> members = new ArrayList<>();
      for (String name : List.of("worker-0", "worker-1", "worker-2", "spare")) {
        members.add(worker(all, port, name, dir));
      }
      int lossy = 0;
      if (chaos != null) {
        // 1. A worker, then the coordinator, in round 2, before it merges: the round is trained again whole.
        List<String> open = awaitOpen(lines, coordinator, 2);
        Thread.sleep(chaos.nextInt(100)); // a round's local steps take about 0.3 s here
        Member victim = participant(members, open, chaos);
        kill(victim.process());
        members.set(members.indexOf(victim), worker(all, port, victim.name() + "-r", dir));
        Thread.sleep(chaos.nextInt(100));
        assertTrue(lines.stream().noneMatch(l -> l.startsWith("round 2/")),
            "round 2 merged before the coordinator's kill; the test's moments are too late:\n" + String.join("\n", lines));
        kill(coordinator);
        long killed = System.nanoTime();
        history.addAll(lines);
        lines = new CopyOnWriteArrayList<>();
        coordinator = CoordinatorCrashMultiProcessTest.start(all, resumed(coordinatorArgs),
            CoordinatorCrashMultiProcessTest.LOGBACK, lines);
        awaitOpen(lines, coordinator, 2);
        System.out.printf("time to recover: round 2 open again %.1f s after the coordinator's SIGKILL (restarted at once:"
            + " JVM start, checkpoint load, 3 workers joined again)%n", (System.nanoTime() - killed) / 1e9);
        // 2. A participant of round 3 or 4 at a random moment: its slot of that round is lost.
        lossy = 3 + chaos.nextInt(2);
        open = awaitOpen(lines, coordinator, lossy);
        Thread.sleep(chaos.nextInt(300));
        victim = participant(members, open, chaos);
        kill(victim.process());
        members.set(members.indexOf(victim), worker(all, port, victim.name() + "-r", dir));

        // 3. The last round: a participant stops at a random moment of its training (SIGSTOP: its connection stays
        // open, its heartbeats stop) and is dropped after the heartbeat time-out, so the round merges without it and
        // only its presence stream can tell it the run finished. 3 s after it, the spare stops in its poll: it is a
        // member still when the run finishes, so the coordinator drains (waits for it) after its final checkpoint.
        List<String> last = awaitOpen(lines, coordinator, ROUNDS);
        Thread.sleep(chaos.nextInt(200));
        Member paused = participant(members, last, chaos);
        signal("STOP", paused.process());
        Thread.sleep(3000);
        Member spare = null;
        for (Member m : members) {
          if (last.stream().noneMatch(id -> id.endsWith("-" + m.name())) && m.log().contains("joined")) {
            spare = m; // the spare, or a replacement that joined
          }
        }
        assertTrue(spare != null, "no member outside round " + ROUNDS + "'s participants " + last + " had joined");
        signal("STOP", spare.process());
        CoordinatorCrashMultiProcessTest.awaitLine(lines, coordinator, "run finished after");
        Thread.sleep(50 + chaos.nextInt(450));
        assertTrue(Files.isDirectory(output.resolve("checkpoints").resolve(String.format("step-%08d",
            ROUNDS * LOCAL_STEPS))), "no final checkpoint");
        assertTrue(coordinator.isAlive(), "the coordinator did not wait for its stopped spare:\n" + String.join("\n", lines));
        kill(coordinator); // after the final checkpoint, while it drains
        history.addAll(lines);
        lines = new CopyOnWriteArrayList<>();
        coordinator = CoordinatorCrashMultiProcessTest.start(all, resumed(coordinatorArgs),
            CoordinatorCrashMultiProcessTest.LOGBACK, lines);
        CoordinatorCrashMultiProcessTest.awaitLine(lines, coordinator, "is finished");
        signal("CONT", spare.process());
        assertTrue(spare.process().waitFor(10, TimeUnit.SECONDS), "the spare did not end:\n" + spare.log());
        assertTrue(coordinator.waitFor(60, TimeUnit.SECONDS), "the resumed coordinator did not end:\n"
            + String.join("\n", lines));
        // Issue 30's case: resumed past its run's end, with no coordinator left, it ends at once and says why.
        long t0 = System.nanoTime();
        signal("CONT", paused.process());
        assertTrue(paused.process().waitFor(5, TimeUnit.SECONDS), paused.name() + " did not end:\n" + paused.log());
        assertTrue(paused.log().contains("the coordinator said the run finished"), paused.log());
        System.out.printf("stopped past the run's end: %s ended %.1f s after SIGCONT, no coordinator running%n",
            paused.name(), (System.nanoTime() - t0) / 1e9);
      }
      assertTrue(coordinator.waitFor(60, TimeUnit.SECONDS), "the coordinator did not end:\n" + String.join("\n", lines));
      history.addAll(lines);
      history.stream().filter(l -> l.startsWith("round ")).forEach(System.out::println);
      assertEquals(0, coordinator.exitValue(), String.join("\n", history));
      for (Member m : members) {
        assertTrue(m.process().waitFor(30, TimeUnit.SECONDS), m.name() + " did not end:\n" + m.log());
        assertEquals(0, m.process().exitValue(), m.log());
      }
      JsonNode rounds = new ObjectMapper().readTree(output.resolve("summary.json").toFile()).get("round_results");
      assertEquals(ROUNDS, rounds.size(), "summary.json must keep every round across the coordinator's processes");
      for (int r = 0; r < ROUNDS; r++) {
        assertEquals(r, rounds.get(r).get("round").asInt());
      }
      java.util.Map<String, String> sums = new java.util.TreeMap<>();
      try (var s = Files.list(output.resolve("checkpoints"))) {
        for (Path c : s.filter(Files::isDirectory).toList()) {
          sums.put(c.getFileName().toString(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
              .digest(Files.readAllBytes(c.resolve("model.safetensors")))));
        }
      }
      assertTrue(sums.containsKey(String.format("step-%08d", ROUNDS * LOCAL_STEPS)), sums.keySet().toString());
      return new Outcome(sums, Math.exp(rounds.get(ROUNDS - 1).get("validationLoss").asDouble()), lossy);
    } finally {
      for (Process p : all) {
        signal("CONT", p); // a stopped process ignores SIGKILL's cleanup until it runs again
        p.destroyForcibly();
      }
    }
  }

  private static List<String> resumed(List<String> args) {
    List<String> r = new ArrayList<>(args);
    r.add("--resume");
    return r;
  }

  /** The participants of round {@code round} (1-based), once it opens. */
  private static List<String> awaitOpen(List<String> lines, Process coordinator, int round) throws Exception {
    CoordinatorCrashMultiProcessTest.awaitLine(lines, coordinator, "round " + round + " open:");
    for (String l : lines) {
      Matcher m = OPEN.matcher(l);
      if (m.find() && Integer.parseInt(m.group(1)) == round) {
        return List.of(m.group(2).split(", "));
      }
    }
    throw new AssertionError("no participants of round " + round);
  }

  /** A random live member that takes part in the round whose participants are {@code open}. */
  private static Member participant(List<Member> members, List<String> open, Random chaos) {
    List<Member> in = members.stream().filter(m -> open.stream().anyMatch(id -> id.endsWith("-" + m.name()))).toList();
    assertTrue(!in.isEmpty(), "no member takes part in " + open);
    return in.get(chaos.nextInt(in.size()));
  }

  private static void kill(Process p) throws InterruptedException {
    p.destroyForcibly(); // SIGKILL
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
  }

  private static void signal(String name, Process p) throws Exception {
    if (p.isAlive()) {
      new ProcessBuilder("kill", "-" + name, Long.toString(p.pid())).inheritIO().start().waitFor();
    }
  }

  private static Member worker(List<Process> all, int port, String name, Path dir) throws Exception {
    Path log = dir.resolve(name + ".log");
    return new Member(name, log, CoordinatorCrashMultiProcessTest.start(all, List.of(Launcher.WORKER_MAIN, "worker",
        "--coordinator", "localhost:" + port, "--name", name, "--metrics-port", "-1"),
        CoordinatorCrashMultiProcessTest.LOGBACK, log));
  }
}
