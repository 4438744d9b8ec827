"""The SQL store: settings, models, migrations and one repository module per feature."""
