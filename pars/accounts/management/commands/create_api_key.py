from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pars.accounts.services import create_api_key
from pars.providers.models import Provider


class Command(BaseCommand):
    help = "Create a web-service API key for a provider. The key is the last line printed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider-id", required=True)
        parser.add_argument("--name", default="", help="what the key is for")

    def handle(self, *args: Any, **options: Any) -> None:
        provider = Provider.objects.filter(provider_id=options["provider_id"]).first()
        if provider is None:
            raise CommandError(f"No provider with ID {options['provider_id']}.")
        key, secret = create_api_key(provider=provider, name=options["name"])
        self.stdout.write(
            f"API key {key.prefix} for {provider.name}. Store it now: it cannot be shown again."
        )
        self.stdout.write(secret)
