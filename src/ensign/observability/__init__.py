"""What the controller tells about itself: Prometheus metrics served on `/metrics`."""
