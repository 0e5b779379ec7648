package io.orthoslice.worker;

import io.grpc.ManagedChannel;
import io.grpc.ServerInterceptor;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.orthoslice.coordinator.Checkpointer;
import io.orthoslice.coordinator.Coordinator;
import io.orthoslice.coordinator.ResumeState;
import io.orthoslice.coordinator.RunSettings;
import io.orthoslice.coordinator.ValidationLoss;
import io.orthoslice.coordinator.WeightsSnapshot;
import io.orthoslice.coordinator.grpc.CoordinatorServer;
import io.orthoslice.coordinator.grpc.CoordinatorService;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import io.orthoslice.common.data.TokenWindows;


/**
 * A coordinator behind an in-process gRPC server, started, with workers in this JVM: the round tests'
 * one setup. Closing stops the workers, then the server and the coordinator.
 */
final class InProcessRun implements AutoCloseable {

  final Coordinator core;
  private final CoordinatorServer server;
  private final String name = InProcessServerBuilder.generateName();
  private final List<Worker> workers = new ArrayList<>();
  private final ExecutorService pool = Executors.newCachedThreadPool();

  /** @param interceptors on the server (outermost last), e.g. one that alters what it sends */
  InProcessRun(RunSettings s, WeightsSnapshot start, Checkpointer checkpointer, ServerInterceptor... interceptors)
      throws IOException {
    InProcessServerBuilder builder = InProcessServerBuilder.forName(name);
    for (ServerInterceptor i : interceptors) {
      builder.intercept(i);
    }
    Coordinator c = new Coordinator(s, ResumeState.fresh(start), ValidationLoss.NONE, r -> {}, checkpointer);
    try {
      this.server = new CoordinatorServer(builder, new CoordinatorService(c, CoordinatorService.runSpec(s, "run", 1, 2),
          Duration.ofSeconds(5)), "tok");
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
    this.core = c;
    core.start();
  }

  InProcessRun(RunSettings s, WeightsSnapshot start) throws IOException {
    this(s, start, (st, r) -> {});
  }

  /** One worker per device (named w0, w1, ...; round updates on), each running the run on {@code data}. */
  List<Future<Worker.Summary>> workers(Supplier<TokenWindows> data, String... devices) {
    List<Future<Worker.Summary>> results = new ArrayList<>();
    for (String device : devices) {
      results.add(worker(data, device, c -> c));
    }
    return results;
  }

  /** One more worker, whose client {@code wrap} may change (delay its submits: a straggler, say). */
  Future<Worker.Summary> worker(Supplier<TokenWindows> data, String device, UnaryOperator<RoundClient> wrap) {
    return worker(data, device, wrap, Duration.ofSeconds(10));
  }

  /** As above, giving up on an unreachable coordinator after {@code giveUpAfter}. */
  Future<Worker.Summary> worker(Supplier<TokenWindows> data, String device, UnaryOperator<RoundClient> wrap,
      Duration giveUpAfter) {
    ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
    Worker w = new Worker(wrap.apply(new CoordinatorClient(ch, ch, "tok", giveUpAfter)),
        "w" + workers.size(), device, true);
    workers.add(w);
    return pool.submit(() -> w.run(run -> data.get()));
  }

  /** The coordinator's process ends (after its run, or in a crash: {@link Coordinator#close} ends no run). */
  void stopCoordinator() {
    core.close(); // first: nothing more happens in the run while the server lets its calls end
    server.close();
  }

  @Override
  public void close() {
    workers.forEach(Worker::close);
    pool.shutdownNow();
    server.close();
    core.close();
  }
}
