package dev.gatehouse.server;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The control-plane HTTP listener: {@code /healthz} (the process answers), {@code /readyz} (every
 * readiness check passes: audit store writable, policy loaded, listeners bound) and Prometheus
 * {@code /metrics}. Later issues add the REST API under {@code /api/v1}. Every response, errors
 * included, is JSON except the metrics text.
 *
 * <p>Bind it to loopback or a management network: metrics name resources and counts. On loopback
 * it answers only requests whose Host is {@code localhost} or a loopback address (421 otherwise),
 * so that a web page cannot read it through DNS rebinding.
 */
public final class ControlPlane implements AutoCloseable {
  /**
   * A named check; an empty answer means ready, otherwise the reason it is not. A check that does
   * not {@code block} reports its problem without making the node unready: the node serves on.
   */
  public record ReadinessCheck(String name, Supplier<Optional<String>> problem, boolean blocks) {
    public ReadinessCheck(String name, Supplier<Optional<String>> problem) {
      this(name, problem, true);
    }
  }

  private final Javalin app;

  public ControlPlane(String bind, int port, PrometheusMeterRegistry metrics, List<ReadinessCheck> checks) {
    boolean loopback = loopback(bind);
    this.app = Javalin.create(config -> {
      config.jetty.host = bind;
      config.jetty.port = port;
      config.concurrency.useVirtualThreads = true;
      config.startup.showJavalinBanner = false;
      config.startup.showOldJavalinVersionWarning = false;
      config.http.maxRequestSize = 64 * 1024;
      // On loopback, a request for any other host name is a web page's (DNS rebinding: a name of
      // the attacker's resolving to 127.0.0.1 lets the page read the answers): refused, 421.
      config.routes.before(ctx -> {
        if (loopback && !loopbackHost(ctx.header("Host"))) {
          ctx.status(421);
          ctx.json(Map.of("error", "misdirected request: this control plane listens on loopback and answers only"
              + " requests for localhost or a loopback address"));
          ctx.skipRemainingHandlers();
        }
      });
      config.routes.get("/healthz", ctx -> ctx.json(Map.of("status", "ok")));
      config.routes.get("/readyz", ctx -> ready(ctx, checks));
      config.routes.get("/metrics", ctx -> {
        ctx.contentType("text/plain; version=0.0.4; charset=utf-8");
        ctx.result(metrics.scrape());
      });
      config.routes.error(404, "*", ctx -> ctx.json(Map.of("error", "not found", "path", ctx.path())));
      config.routes.error(405, "*", ctx -> ctx.json(Map.of("error", "method not allowed")));
      config.routes.exception(Exception.class, (e, ctx) -> {
        ctx.status(500);
        ctx.json(Map.of("error", "internal error"));
      });
    });
  }

  private static boolean loopback(String bind) {
    try {
      return java.net.InetAddress.getByName(bind).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false; // the listener will not bind either
    }
  }

  /**
   * Whether a Host header names this machine's loopback: {@code localhost}, an IPv4 address in
   * 127.0.0.0/8 or {@code [::1]}, with or without a port. No header (HTTP/1.0) is accepted: browsers
   * always send one.
   */
  static boolean loopbackHost(String header) {
    if (header == null || header.isBlank()) return true;
    String h = header.strip().toLowerCase(java.util.Locale.ROOT);
    String host;
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      if (end < 0) return false;
      host = h.substring(1, end);
      String rest = h.substring(end + 1);
      if (!rest.isEmpty() && !rest.matches(":[0-9]{1,5}")) return false;
      return host.equals("::1") || host.equals("0:0:0:0:0:0:0:1");
    }
    int colon = h.indexOf(':');
    host = colon < 0 ? h : h.substring(0, colon);
    if (colon >= 0 && !h.substring(colon).matches(":[0-9]{1,5}")) return false;
    if (host.equals("localhost") || host.equals("localhost.")) return true;
    return host.matches("127\\.([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})");
  }

  private static void ready(Context ctx, List<ReadinessCheck> checks) {
    Map<String, String> results = new LinkedHashMap<>();
    boolean ready = true;
    for (ReadinessCheck check : checks) {
      Optional<String> problem;
      try {
        problem = check.problem().get();
      } catch (RuntimeException e) {
        problem = Optional.of("check failed: " + e.getClass().getSimpleName());
      }
      results.put(check.name(), problem.orElse("ok"));
      ready &= problem.isEmpty() || !check.blocks();
    }
    ctx.status(ready ? 200 : 503);
    ctx.json(Map.of("status", ready ? "ready" : "not ready", "checks", results));
  }

  public ControlPlane start() {
    app.start();
    return this;
  }

  public int port() {
    return app.port();
  }

  @Override
  public void close() {
    app.stop();
  }
}
