"""LangChain tools over the retail (tau2-bench) connector."""
