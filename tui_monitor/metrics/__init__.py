"""Prometheus exposition of the recorder (issue 17): `[metrics] listen`, `record --metrics`."""
