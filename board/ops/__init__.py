"""Running the board as infrastructure: probes (/healthz, /readyz), Prometheus metrics, log format."""
