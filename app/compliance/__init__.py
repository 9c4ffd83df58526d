"""Endpoint compliance: pure checks over evidence gathered by the collectors in backends/."""
