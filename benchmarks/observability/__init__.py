"""`python -m benchmarks observability`: what metrics and tracing cost a worker's drain.

conveyor alone, with no middleware, with `PrometheusMiddleware`, with `TracingMiddleware`
(OpenTelemetry SDK, every span sampled, a batch processor into an exporter that drops
everything) and with both, in alternating rounds; reported as ratios to no middleware.
`--profile` shows where each middleware's time goes instead.
"""
