"""Widgets and helpers the sections share: buttons, headings, the busy row of long operations."""
