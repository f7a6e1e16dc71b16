"""Backup and restore of PARS: the PostgreSQL database and the uploaded files (MEDIA_ROOT).

    bin/backup [--into DIR]         writes DIR/pars-<UTC time>/ with database.dump,
                                    media.tar.gz and manifest.json
    bin/restore BACKUP_DIR          restores into the empty database of DATABASE_URL and an
                                    empty PARS_MEDIA_ROOT, then verifies all against the manifest
    bin/restore --check BACKUP_DIR  only checks the backup's files (checksums, readable dump)

The database and the media folder are those the application uses: both come from
``pars.settings`` (``DATABASE_URL``, ``PARS_MEDIA_ROOT``), read from the same environment.

The dump is taken from one snapshot (``pg_export_snapshot``), and the manifest's row count
and fingerprint of every table are computed in that same snapshot, so a restore can prove it
holds exactly the rows that were dumped even though the application kept writing during the
backup. The fingerprint is the sum of a 64-bit hash of every row's text: independent of row
order, computed while scanning (no table has to fit in memory). Media files are archived after
the snapshot: every file a dumped row refers to is in the archive (uploads are kept, never
rewritten in place); a file uploaded during the backup may be there without its row.

Backups hold learners' personal data: they are written readable by their owner only.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_VERSION = 1
DUMP = "database.dump"
MEDIA = "media.tar.gz"
MANIFEST = "manifest.json"

# Row text must not depend on the session: the same settings for backup and restore.
SESSION_SETTINGS = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
)
USER_TABLES = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
    ORDER BY 1, 2
"""
USER_RELATIONS = """
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
"""
# Sequences owned by a column (serial or identity): after a restore each must be past the
# largest value in its column, or the next insert would collide.
OWNED_SEQUENCES = """
    SELECT sn.nspname, s.relname, tn.nspname, t.relname, a.attname
    FROM pg_class s
    JOIN pg_namespace sn ON sn.oid = s.relnamespace
    JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
         AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    WHERE s.relkind = 'S'
    ORDER BY 1, 2
"""


class BackupError(Exception):
    """A refusal or a failed verification: printed as one clear line, exit status 1."""


# ---------------------------------------------------------------------------
# What the application uses


def app_settings() -> tuple[dict[str, Any], Path]:
    """DATABASES['default'] and MEDIA_ROOT, exactly as the application reads them."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pars.settings")
    from django.conf import settings

    database = dict(settings.DATABASES["default"])
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise BackupError(
            "bin/backup and bin/restore work with PostgreSQL only (DATABASE_URL); a SQLite "
            "development database is copied with: sqlite3 db.sqlite3 '.backup copy.sqlite3'"
        )
    return database, Path(settings.MEDIA_ROOT)


_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


def libpq_params(database: dict[str, Any]) -> dict[str, str]:
    params = {
        "dbname": database.get("NAME"),
        "host": database.get("HOST"),
        "port": database.get("PORT"),
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
    }
    for key, value in (database.get("OPTIONS") or {}).items():
        if key in _LIBPQ_OPTIONS:
            params[key] = value
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def libpq_env(params: dict[str, str]) -> dict[str, str]:
    """The connection for pg_dump/pg_restore as environment variables: the password
    never appears on a command line (where ``ps`` would show it)."""
    names = {
        "dbname": "PGDATABASE",
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        **_LIBPQ_OPTIONS,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**clean, **{names[key]: value for key, value in params.items()}}


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore from PARS_PG_BIN (a directory) or PATH."""
    folder = os.environ.get("PARS_PG_BIN")
    path = str(Path(folder) / name) if folder else shutil.which(name)
    if not path or not Path(path).exists():
        raise BackupError(f"{name} not found: install the PostgreSQL client or set PARS_PG_BIN")
    return path


def tool_version(tool: str) -> str:
    result = subprocess.run(  # noqa: S603 (the PostgreSQL client tools)
        [tool, "--version"], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def connect(params: dict[str, str]) -> Any:
    import psycopg

    try:
        return psycopg.connect(**params)  # type: ignore[arg-type]
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot connect to the database: {error}") from error


def quoted(schema: str, name: str) -> str:
    return '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------
# Table fingerprints and checksums


def table_summary(cursor: Any) -> dict[str, dict[str, Any]]:
    """Per table: the number of rows and an order-independent fingerprint of their text."""
    for statement in SESSION_SETTINGS:
        cursor.execute(statement)
    cursor.execute(USER_TABLES)
    tables: dict[str, dict[str, Any]] = {}
    for schema, name in cursor.fetchall():
        cursor.execute(
            "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text "  # noqa: S608 (quoted identifiers)
            f"FROM {quoted(schema, name)} AS t"
        )
        rows, fingerprint = cursor.fetchone()
        tables[f"{schema}.{name}"] = {"rows": rows, "fingerprint": fingerprint}
    return tables


def sequences_behind(cursor: Any) -> list[str]:
    """Owned sequences whose next value would collide with a row already in the table."""
    cursor.execute(OWNED_SEQUENCES)
    problems = []
    for seq_schema, seq_name, schema, table, column in cursor.fetchall():
        cursor.execute(f"SELECT last_value, is_called FROM {quoted(seq_schema, seq_name)}")  # noqa: S608
        last_value, is_called = cursor.fetchone()
        column_sql = '"' + column.replace('"', '""') + '"'
        cursor.execute(f"SELECT max({column_sql}) FROM {quoted(schema, table)}")  # noqa: S608
        (largest,) = cursor.fetchone()
        next_value = last_value + 1 if is_called else last_value
        if largest is not None and next_value <= largest:
            problems.append(f"{seq_schema}.{seq_name} ({next_value} <= max {largest})")
    return problems


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def media_files(media_root: Path) -> Iterator[tuple[str, Path]]:
    """Regular files under MEDIA_ROOT as (relative POSIX path, path), sorted; links skipped."""
    if not media_root.is_dir():
        return
    for path in sorted(media_root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(media_root).as_posix(), path


# ---------------------------------------------------------------------------
# Backup


def backup(into: Path) -> Path:
    import psycopg

    database, media_root = app_settings()
    params = libpq_params(database)
    pg_dump = pg_tool("pg_dump")
    os.umask(0o077)  # the backup holds personal data: owner only
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    into.mkdir(parents=True, exist_ok=True)
    final = into / f"pars-{stamp}"
    if final.exists():
        raise BackupError(f"{final} already exists")
    work = into / f".pars-{stamp}.partial"
    work.mkdir()
    try:
        manifest: dict[str, Any] = {
            "format": MANIFEST_VERSION,
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "pg_dump": tool_version(pg_dump),
        }
        with connect(params) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
                snapshot, server_version = cursor.fetchone()
                manifest["database"] = {"name": params.get("dbname"), "server": server_version}
                dump = subprocess.run(  # noqa: S603 (pg_dump with our arguments)
                    [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={work / DUMP}"],
                    env=libpq_env(params),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if dump.returncode != 0:
                    raise BackupError(f"pg_dump failed: {dump.stderr.strip()}")
                manifest["tables"] = table_summary(cursor)
                cursor.execute(
                    "SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app"
                )
                manifest["migrations"] = dict(cursor.fetchall())
            conn.rollback()

        files: dict[str, dict[str, Any]] = {}
        with tarfile.open(work / MEDIA, "w:gz", compresslevel=6) as archive:
            for relative, path in media_files(media_root):
                try:
                    digest, size = sha256_of(path), path.stat().st_size
                    archive.add(path, arcname=relative, recursive=False)
                except FileNotFoundError:
                    continue  # removed while the backup ran
                files[relative] = {"size": size, "sha256": digest}
        manifest["media"] = {"root": str(media_root), "files": files}
        manifest["archives"] = {name: sha256_of(work / name) for name in (DUMP, MEDIA)}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    rows = sum(table["rows"] for table in manifest["tables"].values())
    print(
        f"Backed up {len(manifest['tables'])} tables ({rows} rows) and "
        f"{len(manifest['media']['files'])} media files into:"
    )
    print(final)
    return final


# ---------------------------------------------------------------------------
# Restore


def load_manifest(backup_dir: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((backup_dir / MANIFEST).read_text())
    except FileNotFoundError as error:
        raise BackupError(f"{backup_dir} is not a PARS backup (no {MANIFEST})") from error
    if manifest.get("format") != MANIFEST_VERSION:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def check_archives(backup_dir: Path, manifest: dict[str, Any]) -> None:
    """The dump and the media archive are the files the backup wrote, and readable."""
    for name, expected in manifest["archives"].items():
        path = backup_dir / name
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {name} is missing")
        if sha256_of(path) != expected:
            raise BackupError(f"the backup is damaged: the checksum of {name} does not match")
    listing = subprocess.run(  # noqa: S603 (pg_restore --list of our file)
        [pg_tool("pg_restore"), "--list", str(backup_dir / DUMP)],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode != 0:
        raise BackupError(f"pg_restore cannot read {DUMP}: {listing.stderr.strip()}")
    with tarfile.open(backup_dir / MEDIA, "r:gz") as archive:
        names = {member.name for member in archive.getmembers() if member.isfile()}
    if names != set(manifest["media"]["files"]):
        raise BackupError("the media archive does not hold the files the manifest lists")


def restore(backup_dir: Path) -> None:
    manifest = load_manifest(backup_dir)
    check_archives(backup_dir, manifest)
    database, media_root = app_settings()
    params = libpq_params(database)

    with connect(params) as conn, conn.cursor() as cursor:
        cursor.execute(USER_RELATIONS)
        (relations,) = cursor.fetchone()
    if relations:
        raise BackupError(
            f"the database {params.get('dbname')!r} is not empty ({relations} tables, sequences "
            "or views): restore into a new, empty database (createdb -O <owner> <name>)"
        )
    if media_root.exists() and any(media_root.iterdir()):
        raise BackupError(
            f"the media folder {media_root} is not empty: point PARS_MEDIA_ROOT at a new folder"
        )

    restored = subprocess.run(  # noqa: S603 (pg_restore with our arguments)
        [
            pg_tool("pg_restore"),
            "--no-owner",  # the tables belong to the user restoring them (the app's user)
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={params['dbname']}",
            str(backup_dir / DUMP),
        ],
        env=libpq_env(params),
        capture_output=True,
        text=True,
        check=False,
    )
    if restored.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was restored): {restored.stderr.strip()}")

    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(backup_dir / MEDIA, "r:gz") as archive:
        # The "data" filter refuses absolute paths, "..", links out of the folder, devices.
        archive.extractall(media_root, filter="data")

    verify(manifest, params, media_root)


def verify(manifest: dict[str, Any], params: dict[str, str], media_root: Path) -> None:
    """The restored database and media folder hold exactly what the manifest describes."""
    problems = []
    with connect(params) as conn, conn.cursor() as cursor:
        tables = table_summary(cursor)
        problems += [f"sequence behind its column: {s}" for s in sequences_behind(cursor)]
    expected_tables = manifest["tables"]
    for name in sorted(set(expected_tables) | set(tables)):
        if name not in tables:
            problems.append(f"table {name} is missing")
        elif name not in expected_tables:
            problems.append(f"table {name} is not in the backup")
        elif tables[name] != expected_tables[name]:
            problems.append(
                f"table {name}: {tables[name]['rows']} rows restored, "
                f"{expected_tables[name]['rows']} backed up, or their content differs"
            )
    expected_files = manifest["media"]["files"]
    present = dict(media_files(media_root))
    for relative in sorted(set(expected_files) | set(present)):
        if relative not in present:
            problems.append(f"media file {relative} is missing")
        elif relative not in expected_files:
            problems.append(f"media file {relative} is not in the backup")
        elif sha256_of(present[relative]) != expected_files[relative]["sha256"]:
            problems.append(f"media file {relative} differs from the backup")
    if problems:
        raise BackupError("the restore does not match the backup:\n  " + "\n  ".join(problems))
    rows = sum(table["rows"] for table in tables.values())
    print(
        f"Restored and verified {len(tables)} tables ({rows} rows) and "
        f"{len(present)} media files into {params.get('dbname')} and {media_root}."
    )


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bin/backup | bin/restore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("backup", help="dump the database and archive the media files")
    make.add_argument(
        "--into",
        type=Path,
        default=Path(os.environ.get("PARS_BACKUP_DIR", ROOT / "var" / "backups")),
        help="folder that receives pars-<time>/ (default: $PARS_BACKUP_DIR or var/backups)",
    )
    back = commands.add_parser("restore", help="restore a backup into an empty database")
    back.add_argument("backup_dir", type=Path)
    back.add_argument(
        "--check", action="store_true", help="only check the backup's files; restore nothing"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "backup":
            backup(args.into)
        elif args.check:
            manifest = load_manifest(args.backup_dir)
            check_archives(args.backup_dir, manifest)
            print(f"{args.backup_dir}: checksums match, the dump is readable.")
        else:
            restore(args.backup_dir)
    except BackupError as error:
        print(f"bin/{args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
