package io.orthoslice.common.metrics;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.MemoryUsage;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class GpuMemoryMetersTest {

  @Test
  void gaugesFollowTheReaderAndAreAbsentOnCpu() {
    PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    AtomicLong used = new AtomicLong(1 << 30);
    GpuMemoryMeters.bind(r, "gpu1", () -> new MemoryUsage(-1, used.get(), used.get(), 80L << 30));
    System.gc(); // the registry must keep the reader alive: nothing else holds it (as in bindIfGpu)
    String text = r.scrape();
    assertTrue(text.contains("orthoslice_gpu_memory_used_bytes{device=\"gpu1\"} 1.073741824E9"), text);
    assertTrue(text.contains("orthoslice_gpu_memory_total_bytes{device=\"gpu1\"} 8.589934592E10"), text);
    used.set(2L << 30);
    assertTrue(r.scrape().contains("orthoslice_gpu_memory_used_bytes{device=\"gpu1\"} 2.147483648E9"));

    PrometheusMeterRegistry failing = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    GpuMemoryMeters.bind(failing, "gpu0", () -> {
      throw new IllegalStateException("no driver");
    });
    assertTrue(failing.scrape().contains("orthoslice_gpu_memory_used_bytes{device=\"gpu0\"} NaN"));

    PrometheusMeterRegistry cpu = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    GpuMemoryMeters.bindIfGpu(cpu, Device.cpu());
    assertFalse(cpu.scrape().contains("gpu_memory"));
  }
}
