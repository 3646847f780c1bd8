"""sadari's database of record: models, schema migrations (alembic) and repository functions."""
