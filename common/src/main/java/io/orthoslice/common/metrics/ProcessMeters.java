package io.orthoslice.common.metrics;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * Builds the one Prometheus registry of a process (only a main calls this; everything else takes a
 * {@code MeterRegistry}), with the process's role and identity as common tags and the JVM and
 * process meters bound.
 */
public final class ProcessMeters {

  /** Prefix of every Orthoslice meter name ({@code orthoslice.} becomes {@code orthoslice_}). */
  public static final String PREFIX = "orthoslice.";

  private ProcessMeters() {}

  /**
   * @param role "coordinator" or "worker"
   * @param extraTags name/value pairs (e.g. "worker", "worker-0"); bounded values only
   */
  public static PrometheusMeterRegistry create(String role, String... extraTags) {
    if (role == null || role.isBlank()) {
      throw new IllegalArgumentException("role must be non-blank, got '" + role + "'");
    }
    if (extraTags.length % 2 != 0) {
      throw new IllegalArgumentException("extraTags must be name/value pairs, got " + extraTags.length + " strings");
    }
    PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    r.config().commonTags(Tags.of(Tag.of("role", role)).and(extraTags));
    // Two of ProcessorMetrics' names fail `promtool check metrics`: a nanosecond counter (not a base
    // unit; process_cpu_usage carries the same information) and a gauge ending in _count.
    r.config().meterFilter(MeterFilter.denyNameStartsWith("process.cpu.time"));
    r.config().meterFilter(new MeterFilter() {
      @Override
      public Meter.Id map(Meter.Id id) {
        return id.getName().equals("system.cpu.count") ? id.withName("system.cpu.logical.processors") : id;
      }
    });
    new JvmMemoryMetrics().bindTo(r);
    // The GC binder keeps listeners for the life of the process, which is the registry's life.
    new JvmGcMetrics().bindTo(r);
    new JvmThreadMetrics().bindTo(r);
    new ClassLoaderMetrics().bindTo(r);
    new ProcessorMetrics().bindTo(r);
    new UptimeMetrics().bindTo(r);
    new FileDescriptorMetrics().bindTo(r);
    return r;
  }
}
