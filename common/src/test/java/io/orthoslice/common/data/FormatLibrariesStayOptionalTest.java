package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training never loads the Parquet, Hadoop or zstd classes: the GPU harness carries a class path
 * without those jars (issue 31). Text and JSONL inputs are prepared in a class loader that lacks
 * them, and only a Parquet input reaches for them.
 */
class FormatLibrariesStayOptionalTest {

  private static final Pattern FORMAT_JARS =
      Pattern.compile(".*/(parquet-[^/]*|hadoop-[^/]*|zstd-jni-[^/]*|snappy-java-[^/]*|jts-core-[^/]*)\\.jar");

  @TempDir Path tmp;

  /** This JVM's test class path less the format libraries, over the platform's classes only. */
  private static URLClassLoader withoutFormatLibraries() throws Exception {
    // Surefire runs tests from a manifest-only jar and names the real class path here.
    String path =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<URL> urls = new ArrayList<>();
    List<String> dropped = new ArrayList<>();
    for (String entry : path.split(File.pathSeparator)) {
      if (FORMAT_JARS.matcher(entry.replace(File.separatorChar, '/')).matches()) {
        dropped.add(Path.of(entry).getFileName().toString());
      } else {
        urls.add(Path.of(entry).toUri().toURL());
      }
    }
    // parquet-{hadoop,column,common,encoding,format-structures,jackson}, hadoop-{common,
    // mapreduce-client-core}, zstd-jni, snappy-java, jts-core.
    assertEquals(11, dropped.size(), dropped.toString());
    return new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
  }

  /** PrepareData.prepare(CorpusSource.file(input), new ByteTokenizer(), out, DEFAULTS) in {@code loader}. */
  private static Object prepare(ClassLoader loader, Path input, Path out) throws Throwable {
    Class<?> sources = loader.loadClass(CorpusSource.class.getName());
    Class<?> tokenizer = loader.loadClass(Tokenizer.class.getName());
    Class<?> options = loader.loadClass(PrepareOptions.class.getName());
    Object source = sources.getMethod("file", Path.class).invoke(null, input);
    Object bytes = loader.loadClass(ByteTokenizer.class.getName()).getConstructor().newInstance();
    Method prepare =
        loader
            .loadClass(PrepareData.class.getName())
            .getMethod("prepare", List.class, tokenizer, Path.class, options);
    try {
      return prepare.invoke(null, List.of(source), bytes, out, options.getField("DEFAULTS").get(null));
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  @Test
  void textAndJsonlInputsPrepareWithoutParquetHadoopOrZstdOnTheClassPath() throws Throwable {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), List.of("alpha", "beta"));
    Path jsonlGz = TestCorpus.write(tmp.resolve("b.jsonl.gz"), TestCorpus.jsonl(List.of("gamma")));
    Path parquet = TestParquet.write(tmp.resolve("c.parquet"), List.of("delta"));
    try (URLClassLoader loader = withoutFormatLibraries()) {
      Object m = prepare(loader, txt, tmp.resolve("txt"));
      assertEquals(loader, m.getClass().getClassLoader());
      prepare(loader, jsonlGz, tmp.resolve("jsonl"));
      Throwable e = assertThrows(Throwable.class, () -> prepare(loader, parquet, tmp.resolve("parquet")));
      assertInstanceOf(NoClassDefFoundError.class, e);
      assertTrue(e.getMessage().startsWith("org/apache/parquet/"), e.getMessage());
    }
  }
}
