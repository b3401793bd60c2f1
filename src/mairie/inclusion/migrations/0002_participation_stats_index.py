"""A covering index for the statistics on PostgreSQL: (commune, date) with the columns they group and count.

The statistics read participations of one commune between two dates (``mairie.inclusion.selectors.stats``);
with this index PostgreSQL answers from the index alone (an index-only scan once the table is vacuumed).
SQLite has no covering indexes: the plain ``(commune, date)`` index of the model serves it.
"""

from django.db import migrations

INDEX = "inclusion_part_stats"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON inclusion_participation (commune_id, date) "
            "INCLUDE (beneficiary_id, theme_id, autonomy, duration_minutes)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("inclusion", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
