"""Property-based tests: the codec against generated values and bytes, the jobs router
against requests generated from its OpenAPI schema (hypothesis, schemathesis)."""
