"""Reports rendered for people to read and file: a small PDF writer with no third-party library."""
