"""The console's File > Import and Export: the preview, progress and cancel."""
