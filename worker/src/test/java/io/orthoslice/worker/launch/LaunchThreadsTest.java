package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Torch threads per child: one each on the CPU, the cores split over every process with GPUs, or as asked. */
class LaunchThreadsTest {

  @Test
  void automaticThreadsShareTheCoresOnlyWhenTheStepsRunOnGpus() {
    assertEquals(1, LaunchConfig.threadsPerProcess(0, 3, false, 2));
    assertEquals(1, LaunchConfig.threadsPerProcess(0, 3, false, 64));
    assertEquals(8, LaunchConfig.threadsPerProcess(0, 1, true, 16)); // the coordinator and one worker
    assertEquals(5, LaunchConfig.threadsPerProcess(0, 2, true, 16));
    assertEquals(1, LaunchConfig.threadsPerProcess(0, 32, true, 16));
    assertEquals(3, LaunchConfig.threadsPerProcess(3, 2, true, 16));
    assertThrows(IllegalArgumentException.class, () -> LaunchConfig.threadsPerProcess(-1, 2, true, 16));
  }
}
