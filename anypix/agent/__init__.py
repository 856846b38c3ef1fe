"""The planner agent: fast-path grammar, LLM backends, layout reasoning and the executor loop."""
