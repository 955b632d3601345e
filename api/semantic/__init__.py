"""The semantic layer at run time: dbt's semantic manifest, compiled by MetricFlow in-process.

Metrics are defined once in `dbt_project/models/marts/semantic/`; this package lists them,
validates a metric query against them, compiles it to SQL with MetricFlow, and hands the SQL to
the same guard and read-only executor as every other query. The CLI (`tmdb metrics`), the API
(`/metrics`, `/ask`) and the MCP server all go through `SemanticLayer`, which compiles a query
onto a rollup (`rollup.py`) when every part of it is in one.
"""
