"""The PySide6 console. Talks to strongroom.app only."""
