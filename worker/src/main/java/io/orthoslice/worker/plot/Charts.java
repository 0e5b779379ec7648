package io.orthoslice.worker.plot;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;

/**
 * Orthoslice's PNG plots (XChart) in one style, and their encoding: {@code sweep}'s figures and {@code
 * report}'s charts are drawn with these.
 */
public final class Charts {

  private Charts() {}

  /**
   * Whether this Java runtime can draw: XChart needs java.desktop (AWT), which a jlink'd runtime (a GPU
   * host's, say) may leave out.
   */
  public static boolean available() {
    return ModuleLayer.boot().findModule("java.desktop").isPresent();
  }

  /** A line chart: white background, small markers, the legend inside at the top right. */
  public static XYChart xy(String title, String x, String y, int width, int height) {
    headless();
    XYChart c = new XYChartBuilder().width(width).height(height).title(title).xAxisTitle(x).yAxisTitle(y).build();
    c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE).setMarkerSize(5)
        .setChartBackgroundColor(Color.WHITE);
    return c;
  }

  /** A bar chart in the same style, its bars stacked when {@code stacked}. */
  public static CategoryChart bars(String title, String x, String y, int width, int height, boolean stacked) {
    headless();
    CategoryChart c = new CategoryChartBuilder().width(width).height(height).title(title).xAxisTitle(x)
        .yAxisTitle(y).build();
    c.getStyler().setStacked(stacked).setLegendPosition(Styler.LegendPosition.OutsideS)
        .setChartBackgroundColor(Color.WHITE);
    c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
    return c;
  }

  /** The chart as PNG bytes. */
  public static byte[] png(Chart<?, ?> c) throws IOException {
    return BitmapEncoder.getBitmapBytes(c, BitmapEncoder.BitmapFormat.PNG);
  }

  /** Writes the chart to {@code file} as PNG; returns the file. */
  public static Path save(Chart<?, ?> c, Path file) throws IOException {
    BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    return file;
  }

  private static void headless() {
    System.setProperty("java.awt.headless", "true");
  }
}
