"""Router evaluation: RouteLLM's metrics with bootstrap intervals on recorded benchmarks (`hybrid eval`).

Modules, one job each:
- `datasets`: the decontaminated benchmarks and their per-prompt quality and costs;
- `embedding_cache`: prompt embeddings kept on disk between runs;
- `curves`: curves of any two-path method, APGR, CPT and bootstrap intervals;
- `replay`: the real pipeline on recorded answers, for costs and the hybrid;
- `routers`: the router variants to compare;
- `harness`: every method side by side on each benchmark;
- `modes`: the cascade and parallel modes as single points beside the curves;
- `report`, `plot`: the console table, the JSON document and the chart;
- `published`: RouteLLM's published figures for comparison;
- `command`: the `hybrid eval` subcommand.

Importing this package loads none of them, so the CLI starts fast.
"""
