package io.orthoslice.worker.report;

import io.orthoslice.worker.report.ReportCharts.Figure;
import io.orthoslice.worker.report.RunData.Point;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The report as one self-contained HTML page: no script, no stylesheet or image from elsewhere (the charts
 * are PNG data URIs), so the file can be mailed or archived beside the run and opens offline.
 */
final class ReportPage {

  private ReportPage() {}

  static String html(RunData d, List<Figure> figures, String generated) {
    StringBuilder h = new StringBuilder(1 << 16);
    String title = "Orthoslice " + d.kind().command + " run: " + d.dir().toAbsolutePath().normalize().getFileName();
    h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").append(esc(title))
        .append("</title>\n<style>\n")
        .append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;max-width:1560px}\n")
        .append("h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\n")
        .append(".sub{color:#555;margin:0 0 16px}.status{font-weight:600}\n")
        .append("table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}\n")
        .append("th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n")
        .append(".config{columns:3 320px;column-gap:24px;font-size:13px}.config div{break-inside:avoid;padding:1px 0}\n")
        .append(".config b{font-weight:600}\n")
        .append(".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:18px}\n")
        .append("figure{margin:0;border:1px solid #e4e4e4;padding:8px}figure img{width:100%;height:auto;display:block}\n")
        .append("figcaption{font-size:13px;color:#444;margin-top:6px}.none{color:#8a5a00;background:#fff8e6;padding:10px}\n")
        .append("ul.missing{color:#8a5a00}\n</style>\n</head>\n<body>\n");
    h.append("<h1>").append(esc(title)).append("</h1>\n<p class=\"sub\">").append(esc(d.dir().toAbsolutePath()
        .normalize().toString())).append(" &middot; report written ").append(esc(generated)).append("</p>\n");
    h.append("<p class=\"status\">").append(esc(d.status())).append("</p>\n");
    if (!d.facts().isEmpty()) {
      h.append("<table>\n");
      d.facts().forEach((k, v) -> h.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v))
          .append("</td></tr>\n"));
      h.append("</table>\n");
    }
    if (!d.missing().isEmpty()) {
      h.append("<ul class=\"missing\">\n");
      d.missing().forEach(m -> h.append("<li>").append(esc(m)).append("</li>\n"));
      h.append("</ul>\n");
    }
    h.append("<h2>Configuration</h2>\n<div class=\"config\">\n");
    for (Map.Entry<String, Object> e : d.config().entrySet()) {
      h.append("<div><b>").append(esc(e.getKey())).append("</b> ").append(esc(String.valueOf(e.getValue())))
          .append("</div>\n");
    }
    h.append("</div>\n<h2>Charts</h2>\n<div class=\"grid\">\n");
    for (Figure f : figures) {
      h.append("<figure>");
      if (f.drawn()) {
        h.append("<img alt=\"").append(esc(f.title())).append("\" src=\"data:image/png;base64,")
            .append(Base64.getEncoder().encodeToString(f.png())).append("\">");
        h.append("<figcaption>").append(esc(f.caption())).append("</figcaption>");
      } else {
        h.append("<figcaption><b>").append(esc(f.title())).append("</b></figcaption><p class=\"none\">")
            .append(esc(f.caption())).append("</p>");
      }
      h.append("</figure>\n");
    }
    h.append("</div>\n");
    table(h, d);
    h.append("</body>\n</html>\n");
    return h.toString();
  }

  /** Every point's numbers, as the files hold them. */
  private static void table(StringBuilder h, RunData d) {
    if (d.points().isEmpty()) {
      return;
    }
    boolean distributed = d.kind().distributed();
    List<String> parts = List.copyOf(d.points().get(0).time().keySet());
    h.append("<h2>").append(distributed ? "Rounds" : "Evaluations").append("</h2>\n<table>\n<tr><th>")
        .append(d.kind().unit()).append("</th><th>tokens</th><th>training loss</th><th>validation perplexity</th>");
    if (distributed) {
      h.append("<th>merged / in round</th>");
    }
    parts.forEach(p -> h.append("<th>").append(esc(p)).append(" s</th>"));
    h.append("<th>").append(distributed ? "round" : "interval").append(" s</th>");
    if (distributed) {
      h.append("<th>eval s</th><th>efficiency</th><th>sent</th><th>fetched</th><th>B/token</th>");
    }
    h.append("</tr>\n");
    for (Point p : d.points()) {
      h.append("<tr>").append(cell(Long.toString(p.index()))).append(cell(String.format(Locale.ROOT, "%,d", p.tokens())))
          .append(cell(fmt("%.4f", p.trainLoss()))).append(cell(fmt("%.2f", Math.exp(p.validationLoss()))));
      if (distributed) {
        h.append(cell(p.merged() + " / " + p.participants()));
      }
      parts.forEach(part -> h.append(cell(fmt("%.3f", p.time().get(part)))));
      h.append(cell(fmt("%.3f", p.seconds())));
      if (distributed) {
        h.append(cell(fmt("%.3f", p.evalSeconds()))).append(cell(fmt("%.0f%%", 100 * p.efficiency())))
            .append(cell(bytes(p.uploadBytes()))).append(cell(bytes(p.fetchBytes())))
            .append(cell(fmt("%.1f", p.bytesPerToken())));
      }
      h.append("</tr>\n");
    }
    h.append("</table>\n");
  }

  private static String cell(String s) {
    return "<td class=\"n\">" + esc(s) + "</td>";
  }

  private static String fmt(String f, double v) {
    return Double.isFinite(v) ? String.format(Locale.ROOT, f, v) : "-";
  }

  private static String bytes(double b) {
    if (!Double.isFinite(b)) {
      return "-";
    }
    return b >= 1 << 20 ? String.format(Locale.ROOT, "%.2f MiB", b / (1 << 20))
        : String.format(Locale.ROOT, "%.1f KiB", b / 1024);
  }

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
