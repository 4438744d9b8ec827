from tests.temporal_fixtures import dev_env, time_skipping_env

__all__ = ["dev_env", "time_skipping_env"]
