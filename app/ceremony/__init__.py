"""Offline key ceremonies: scripts, runs, transcripts and SLIP-39 shares."""
