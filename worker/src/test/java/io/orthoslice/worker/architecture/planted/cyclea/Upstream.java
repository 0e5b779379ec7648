package io.orthoslice.worker.architecture.planted.cyclea;

import io.orthoslice.worker.architecture.planted.cycleb.Downstream;

/** Half of a planted package cycle: ArchitectureTest shows its cycle rule catches it. */
public final class Upstream {
  public Downstream next() {
    return new Downstream();
  }
}
