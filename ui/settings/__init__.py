"""The Settings section and the console's stored preferences."""
