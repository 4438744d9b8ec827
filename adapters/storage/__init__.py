"""Object storage for backup archives: a directory or S3."""
