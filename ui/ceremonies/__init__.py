"""The Ceremonies section: the script library, a ceremony run step by step, past ceremonies and
their transcripts, and the share drills."""
