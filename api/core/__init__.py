"""What every feature's routes share: auth, errors, envelopes, pagination, rate limits, runs."""
