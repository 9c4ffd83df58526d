"""Per-OS evidence collectors. Importing this package never fails on another OS."""
