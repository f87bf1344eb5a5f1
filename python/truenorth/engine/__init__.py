"""The rules engine: packs, plugins, planning, evaluation and results."""
