package io.orthoslice.worker.cli;

import io.orthoslice.common.logging.LogIdentity;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.worker.launch.Launcher;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;

/**
 * A coordinator that hosts one worker in its own process ({@code launch --host-worker}): the worker that
 * shares the coordinator's GPU then shares its CUDA context too. In two processes the card runs the two
 * contexts by turns, so every wait of the coordinator for the device costs a turn of the worker's
 * (docs/PERFORMANCE.md); in one process the coordinator's kernels run between the worker's, on a
 * high-priority stream of their own ({@code SideStream}). The two still talk over gRPC on localhost, as
 * any worker does, so the run is the same run: same slots, same bytes, same results.
 *
 * <p>Arguments: the coordinator's, then {@code --}, then the worker's command line ({@code worker
 * --coordinator ...}). A worker that fails is started again, on a new thread, at most {@link
 * Launcher#RESTARTS} times, as the launcher restarts a worker process; then the process exits with
 * status 1 (the coordinator's shutdown hook checkpoints first). The exit status is the coordinator's.
 */
public final class HostingCoordinator {

  // The launcher starts this class by its name (Launcher.HOSTING_MAIN): launch imports nothing of cli.

  private HostingCoordinator() {}

  public static void main(String[] args) throws Exception {
    System.exit(run(args));
  }

  static int run(String[] args) throws Exception {
    int split = Arrays.asList(args).indexOf("--");
    if (split < 0 || split == args.length - 1) {
      throw new IllegalArgumentException("usage: HostingCoordinator COORDINATOR_ARGS... -- worker WORKER_ARGS...;"
          + " got no '--' followed by the worker's arguments");
    }
    String[] coordinator = Arrays.copyOfRange(args, 0, split);
    String[] worker = Arrays.copyOfRange(args, split + 1, args.length);
    LogIdentity.fix("coordinator", "hosting " + nameOf(worker));
    Thread hosted = startWorker(worker, 0);
    CommandLine cl = (CommandLine) Class.forName(Protocol.COORDINATOR_MAIN).getMethod("commandLine").invoke(null);
    int code = cl.execute(coordinator);
    // After a finished run the worker leaves by itself at its next poll; it is a daemon, so a run that
    // failed does not wait for it.
    hosted.join(code == 0 ? 30_000 : 1);
    return code;
  }

  /** The worker on a thread of its own; a failure starts it again, up to the launcher's limit. */
  private static Thread startWorker(String[] args, int restarts) {
    Thread t = new Thread(() -> {
      int code = OrthosliceCli.execute(args);
      if (code == 0) {
        return;
      }
      if (restarts < Launcher.RESTARTS) {
        System.out.println("hosted " + nameOf(args) + " exited with status " + code + "; starting it again ("
            + (restarts + 1) + " of " + Launcher.RESTARTS + ")");
        startWorker(args, restarts + 1);
      } else {
        System.out.println("error: hosted " + nameOf(args) + " failed " + (Launcher.RESTARTS + 1)
            + " times, so the run stops (the coordinator keeps its last checkpoint)");
        System.exit(1);
      }
    }, "hosted-worker");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** The worker's --name, for log lines. */
  private static String nameOf(String[] worker) {
    List<String> a = Arrays.asList(worker);
    int i = a.indexOf("--name");
    return i >= 0 && i + 1 < a.size() ? a.get(i + 1) : "worker";
  }
}
