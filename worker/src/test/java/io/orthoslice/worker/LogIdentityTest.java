package io.orthoslice.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.OutputStreamAppender;
import io.orthoslice.common.logging.LogIdentity;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/**
 * The production logback.xml (one, in common, for the worker and the coordinator) prints the
 * process's identity on lines logged from any thread, not only the one that set it.
 */
class LogIdentityTest {

  @Test
  @SuppressWarnings("unchecked")
  void linesFromOtherThreadsCarryRoleAndWorkerId() throws Exception {
    // One source (common's); the test class path may hold it through several jars, all the same bytes.
    List<URL> configs = Collections.list(getClass().getClassLoader().getResources("logback.xml"));
    assertTrue(!configs.isEmpty(), "no logback.xml on the class path");
    for (URL c : configs) {
      try (InputStream a = configs.get(0).openStream(); InputStream b = c.openStream()) {
        assertArrayEquals(a.readAllBytes(), b.readAllBytes(), "a second, different logback.xml: " + c);
      }
    }
    String before = LogIdentity.current();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      URL config = configs.get(0);
      LogIdentity.set("worker", "w7-test");
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      LoggerContext ctx = new LoggerContext();
      ctx.setMDCAdapter(new LogbackMDCAdapter());
      JoranConfigurator j = new JoranConfigurator();
      j.setContext(ctx);
      j.doConfigure(config);
      // The production console appender, its encoder and pattern as configured, writing here.
      ((OutputStreamAppender<ILoggingEvent>) ctx.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR"))
          .setOutputStream(captured);
      Logger log = ctx.getLogger("io.orthoslice.worker.Probe");
      log.info("from the main thread");
      Thread t = new Thread(() -> log.info("from a plain thread"), "probe-thread");
      t.start();
      t.join();
      pool.submit(() -> log.info("from an executor")).get(10, TimeUnit.SECONDS);
      CompletableFuture.runAsync(() -> log.info("from the common pool")).get(10, TimeUnit.SECONDS);
      // Set later, on another thread: later lines everywhere show it.
      pool.submit(() -> LogIdentity.set("coordinator", null)).get(10, TimeUnit.SECONDS);
      log.info("after the change");
      ctx.stop();
      List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
      assertEquals(5, lines.size(), config + ": " + lines);
      for (String line : lines.subList(0, 4)) {
        assertTrue(line.contains(" [worker w7-test] Probe - from "), config + ": " + line);
      }
      assertTrue(lines.get(4).contains(" [coordinator] Probe - after the change"), config + ": " + lines.get(4));
    } finally {
      pool.shutdownNow();
      if (before == null) {
        System.clearProperty(LogIdentity.PROPERTY);
      } else {
        System.setProperty(LogIdentity.PROPERTY, before);
      }
    }
  }
}
