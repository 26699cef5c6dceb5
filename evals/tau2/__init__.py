"""tau2-bench retail on opsgraph: gold replay, the agent-mode runner and its scoring."""
