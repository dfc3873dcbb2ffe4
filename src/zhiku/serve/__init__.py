"""The HTTP server (`zhiku serve`): thin FastAPI adapters over KnowledgeBases, Ingestor and RagPipeline."""
