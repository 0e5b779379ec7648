package io.orthoslice.common.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes the JVM free the direct buffers of collected Java objects and hands that memory straight
 * back out filled with a marker, so that any tensor still pointing into it reads the marker. This is
 * what a garbage collection between a forward and a backward pass can do by chance.
 */
public final class FreedMemoryReuse {

  /** The value every reused 8-byte word holds: tiny, so a division by it gives a huge number. */
  public static final double MARKER = 1e-300;

  private FreedMemoryReuse() {}

  /** One collection, a pause for the cleaner, then small buffers that take the freed chunks. */
  public static List<ByteBuffer> collectAndReuse() throws InterruptedException {
    System.gc();
    Thread.sleep(30);
    List<ByteBuffer> held = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      ByteBuffer b = ByteBuffer.allocateDirect(i % 2 == 0 ? 8 : 4).order(ByteOrder.nativeOrder());
      if (b.capacity() == 8) {
        b.putDouble(0, MARKER);
      } else {
        b.putFloat(0, (float) 1e-30);
      }
      held.add(b);
    }
    return held;
  }

  /** A daemon thread that keeps doing {@link #collectAndReuse} until interrupted. */
  public static Thread background() {
    Thread t = new Thread(() -> {
      try {
        while (!Thread.currentThread().isInterrupted()) {
          collectAndReuse();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "freed-memory-reuse");
    t.setDaemon(true);
    t.start();
    return t;
  }
}
