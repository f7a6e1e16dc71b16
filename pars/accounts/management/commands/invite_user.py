from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pars.accounts.models import Role
from pars.accounts.services import invite_user
from pars.providers.models import Provider


class Command(BaseCommand):
    help = 'Give a person a role at a provider and send the "System Access Granted" email.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider-id", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)

    def handle(self, *args: Any, **options: Any) -> None:
        provider = Provider.objects.filter(provider_id=options["provider_id"]).first()
        if provider is None:
            raise CommandError(f"No provider with ID {options['provider_id']}.")
        try:
            membership = invite_user(
                provider=provider, email=options["email"], role=options["role"]
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(
            f"Invited {membership.user.email} as {membership.get_role_display()} "
            f"of {provider.name}; the email is queued for the task worker."
        )
