from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pars.learners.connectors.simulator import RegistryFileError, load_registry
from pars.learners.delivery import release_held


class Command(BaseCommand):
    help = (
        "Load a registry file (tab- or comma-separated: learner_id, npi, first_name, "
        "last_name, birth_date MM-DD, license_state) into the registry simulator of a "
        "recipient, then resend the recipient's held records that now match."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("recipient", help="recipient code, e.g. ABIM")
        parser.add_argument("path", help="the registry file")
        parser.add_argument(
            "--append", action="store_true", help="add to the registry instead of replacing it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["recipient"].strip().upper()
        try:
            loaded = load_registry(code, options["path"], replace=not options["append"])
        except (RegistryFileError, OSError) as error:
            raise CommandError(str(error)) from error
        released = release_held(code)
        self.stdout.write(
            f"{loaded} learners loaded into the {code} registry; "
            f"{released} held records released for resending."
        )
