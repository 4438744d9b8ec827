"""X.509 certificates as CloudCore keeps them: parsed for listing, issued for renewal."""
