"""What every workflow run records about itself, without touching its history."""
