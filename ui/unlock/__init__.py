"""Getting into the vault: the first-run wizard, the lock screen, and the unlock methods with
their dialogs and hardware prompts."""
