"""Unit tests: one module or use case at a time, with fakes; fast."""
