"""The async shell around the engine: caches, scheduling, probing, executing, persisting."""
