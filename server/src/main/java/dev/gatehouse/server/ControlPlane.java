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
 * <p>Bind it to loopback or a management network: metrics name resources and counts.
 */
public final class ControlPlane implements AutoCloseable {
  /** A named check; an empty answer means ready, otherwise the reason it is not. */
  public record ReadinessCheck(String name, Supplier<Optional<String>> problem) {}

  private final Javalin app;

  public ControlPlane(String bind, int port, PrometheusMeterRegistry metrics, List<ReadinessCheck> checks) {
    this.app = Javalin.create(config -> {
      config.jetty.host = bind;
      config.jetty.port = port;
      config.concurrency.useVirtualThreads = true;
      config.startup.showJavalinBanner = false;
      config.startup.showOldJavalinVersionWarning = false;
      config.http.maxRequestSize = 64 * 1024;
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
      ready &= problem.isEmpty();
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
