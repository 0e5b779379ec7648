package io.orthoslice.coordinator.grpc;

import io.grpc.stub.ServerCallStreamObserver;
import java.util.Iterator;

/**
 * Sends a lazily produced stream of messages with flow control: messages are made only while the
 * transport is ready, so a large model never sits in memory twice (grpc-java's manual flow-control
 * example). The iterator is pulled on the transport's executor, never concurrently.
 */
final class ChunkSender<T> implements Runnable {

  private final ServerCallStreamObserver<T> out;
  private final Iterator<T> messages;
  private boolean done;

  private ChunkSender(ServerCallStreamObserver<T> out, Iterator<T> messages) {
    this.out = out;
    this.messages = messages;
  }

  static <T> void send(ServerCallStreamObserver<T> out, Iterator<T> messages) {
    ChunkSender<T> s = new ChunkSender<>(out, messages);
    out.setOnCancelHandler(() -> {
      synchronized (s) {
        s.done = true;
      }
    });
    out.setOnReadyHandler(s);
  }

  @Override
  public synchronized void run() {
    while (!done && out.isReady() && messages.hasNext()) {
      out.onNext(messages.next());
    }
    if (!done && !messages.hasNext()) {
      done = true;
      out.onCompleted();
    }
  }
}
