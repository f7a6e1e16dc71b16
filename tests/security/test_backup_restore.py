"""bin/backup and bin/restore give back identical data: every row of every table, every file.

The source is pytest-django's test database, filled through the application's own paths
(the demo data: providers, activities with commercial supporters, learner completions and
their deliveries, annual reports, audit events; plus uploaded files). The backup is restored
into a new database and a new media folder; then every table is compared row for row (an
md5 over the sorted text of its rows) and every file byte for byte. A damaged backup and a
non-empty target are refused.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from psycopg import sql

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity, CommercialSupport
from pars.audit.models import AuditEvent
from pars.demo import load_demo
from pars.intake.models import Upload
from pars.intake.store import store_upload
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="backup and restore use pg_dump/pg_restore: PostgreSQL only "
        "(set DATABASE_URL=postgres://...; CI runs PostgreSQL)",
    ),
    pytest.mark.skipif(
        shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
        reason="pg_dump and pg_restore are not on PATH",
    ),
]


def database_url(name: str) -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{name}"


def run(script: str, *args: str, db_name: str, media: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PARS_", "DATABASE_URL"))}
    env = {
        **clean,
        "PARS_DEBUG": "0",
        "PARS_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url(db_name),
        "PARS_MEDIA_ROOT": str(media),
        "PARS_PYTHON": str(Path(sys.executable)),
    }
    return subprocess.run(  # noqa: S603 (our own scripts)
        [str(ROOT / "bin" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def connect(name: str) -> psycopg.Connection[Any]:
    db = connection.settings_dict
    params = {
        "dbname": name,
        "host": db.get("HOST"),
        "port": db.get("PORT"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
    }
    given: dict[str, Any] = {k: str(v) for k, v in params.items() if v}
    conn = psycopg.connect(**given, autocommit=True)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def table_digests(name: str) -> dict[str, tuple[int, str | None]]:
    """Every table: its row count and the md5 of its rows' text in sorted order."""
    with connect(name) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        digests = {}
        for schema, table in tables:
            query = sql.SQL(
                "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t"
            ).format(sql.Identifier(schema, table))
            row = conn.execute(query).fetchone()
            assert row is not None
            digests[f"{schema}.{table}"] = (row[0], row[1])
        return digests


def sequence_values(name: str) -> dict[str, tuple[int, bool]]:
    with connect(name) as conn:
        sequences = conn.execute(
            "SELECT schemaname, sequencename FROM pg_sequences ORDER BY 1, 2"
        ).fetchall()
        values = {}
        for schema, sequence in sequences:
            query = sql.SQL("SELECT last_value, is_called FROM {}").format(
                sql.Identifier(schema, sequence)
            )
            row = conn.execute(query).fetchone()
            assert row is not None
            values[f"{schema}.{sequence}"] = (row[0], row[1])
        return values


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def new_database() -> Iterator[str]:
    """An empty database beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restore_{secrets.token_hex(4)}"
    with connect("postgres") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with connect("postgres") as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    settings.MEDIA_ROOT = folder
    return folder


def fill(media: Path) -> None:
    """Representative data, written through the application's own paths."""
    load_demo()  # providers, contacts, decisions, activities with supporters, completions…
    riverside = Provider.objects.get(provider_id="0001234")
    access = ProviderAccess(provider=riverside, user=None, role=None, is_staff=True)
    # Text that tests the dump's quoting: quotes, tabs, new lines, non-ASCII, backslashes.
    make_activity(
        riverside,
        provider_activity_id="ODD-1",
        title='Ünïcode "quoted"\ttabbed\nnew line \\ backslash — 💊',
    )
    # An uploaded learner file (stored under MEDIA_ROOT and applied by the task), and a
    # binary file that is refused: both kept with their rows.
    registered = Activity.objects.filter(provider=riverside, registrations__isnull=False).first()
    assert registered is not None
    row = learner_row(
        registered,
        completion_date=registered.end_date.isoformat(),
        cme_credits=str(registered.ama_credits),
        moc_points=str(registered.ama_credits),
    )
    content = "\t".join(row) + "\n" + "\t".join(str(v) for v in row.values()) + "\n"
    store_upload(access, SimpleUploadedFile("learners.txt", content.encode()), kind="learners")
    store_upload(access, SimpleUploadedFile("binary.xlsx", bytes(range(256)) * 64))
    (media / "accreditation" / "2026" / "11").mkdir(parents=True)
    (media / "accreditation" / "2026" / "11" / "évidence ☃.pdf").write_bytes(b"%PDF-1.7\n\x00\xff")

    assert Provider.objects.count() >= 2
    assert CommercialSupport.objects.exists()
    assert LearnerCompletion.objects.count() >= 18
    assert AuditEvent.objects.exists()
    assert Upload.objects.count() == 2
    assert len(files_under(media)) == 3


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_new_database_with_identical_data(
    media: Path, new_database: str, tmp_path: Path
) -> None:
    fill(media)
    source = connection.settings_dict["NAME"]

    made = run("backup", "--into", str(tmp_path / "backups"), db_name=source, media=media)
    assert made.returncode == 0, made.stderr
    backup_dir = Path(made.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in backup_dir.iterdir()) == [
        "database.dump",
        "manifest.json",
        "media.tar.gz",
    ]
    assert backup_dir.stat().st_mode & 0o077 == 0  # personal data: owner only
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["tables"]["public.learners_learnercompletion"]["rows"] == (
        LearnerCompletion.objects.count()
    )
    assert set(manifest["media"]["files"]) == set(files_under(media))

    restored_media = tmp_path / "restored-media"
    checked = run("restore", "--check", str(backup_dir), db_name=new_database, media=restored_media)
    assert checked.returncode == 0, checked.stderr
    restored = run("restore", str(backup_dir), db_name=new_database, media=restored_media)
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert "verified" in restored.stdout

    expected = table_digests(source)
    assert len(expected) > 40
    assert expected["public.activities_activity"][0] > 0
    assert table_digests(new_database) == expected
    assert sequence_values(new_database) == sequence_values(source)
    assert files_under(restored_media) == files_under(media)


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_damaged_backup_and_a_database_that_is_not_empty(
    media: Path, new_database: str, tmp_path: Path
) -> None:
    fill(media)
    source = connection.settings_dict["NAME"]
    made = run("backup", "--into", str(tmp_path / "backups"), db_name=source, media=media)
    assert made.returncode == 0, made.stderr
    backup_dir = Path(made.stdout.strip().splitlines()[-1])

    # Into the source itself: not empty, nothing touched.
    refused = run("restore", str(backup_dir), db_name=source, media=tmp_path / "other")
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr

    # A manifest that promises a row the dump does not have: restored, then caught.
    manifest_path = backup_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["public.audit_auditevent"]["rows"] += 1
    manifest_path.write_text(json.dumps(manifest))
    mismatch = run("restore", str(backup_dir), db_name=new_database, media=tmp_path / "m1")
    assert mismatch.returncode == 1
    assert "public.audit_auditevent" in mismatch.stderr

    # One flipped byte in the dump: refused before anything is restored.
    dump = backup_dir / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    damaged = run("restore", "--check", str(backup_dir), db_name=new_database, media=tmp_path)
    assert damaged.returncode == 1
    assert "damaged" in damaged.stderr
