"""The backup archive format: its writer and its reader."""
