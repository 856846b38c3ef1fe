"""The planner agent: the planner protocol (:mod:`anypix.agent.protocol`), the fast-path
grammar, LLM backends, prompts, layout reasoning and the executor loop."""
