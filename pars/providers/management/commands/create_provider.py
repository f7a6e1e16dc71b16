from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pars.providers.services import create_provider


class Command(BaseCommand):
    help = "Register an accredited provider. Prints the provider ID on success."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--provider-id", required=True, help="7-digit PARS provider ID")
        parser.add_argument("--type", required=True, choices=["accme", "state", "joint"])
        parser.add_argument(
            "--state", help="two-letter state of the accreditor (with --type state)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            provider = create_provider(
                name=options["name"],
                provider_id=options["provider_id"],
                accreditor_type=options["type"],
                state=options["state"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Created provider {provider.name}")
        self.stdout.write(provider.provider_id)
