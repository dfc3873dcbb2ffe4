"""Benchmark tools shipped with zhiku: the HTTP load tester and a stand-in upstream LLM."""
