"""Adapters to hardware and the operating system; each says whether it can run here and why not."""
