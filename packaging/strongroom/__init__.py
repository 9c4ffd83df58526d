"""Strongroom: a local secrets and key custodian. The code lives in strongroom.app (the domain),
strongroom.backends (hardware and OS adapters) and strongroom.ui (the console)."""
