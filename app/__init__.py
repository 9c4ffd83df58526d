"""Strongroom's domain core: vault, keyslots, audit log, CLI. No Qt, no hardware imports."""
