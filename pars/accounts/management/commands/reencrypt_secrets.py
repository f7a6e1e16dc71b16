from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from pars.accounts.models import AuthenticatorDevice
from pars.lib import field_crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt the stored TOTP seeds under the first of PARS_FIELD_ENCRYPTION_KEYS "
        "(after putting a new key in front), so that the old key can be dropped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = 0
        with transaction.atomic():
            for device in AuthenticatorDevice.objects.select_for_update().order_by("pk"):
                try:
                    token = field_crypto.reencrypt(device.encrypted_key)
                except field_crypto.InvalidToken:
                    raise CommandError(
                        f"No configured key opens the seed of device {device.pk}; nothing changed."
                    ) from None
                AuthenticatorDevice.objects.filter(pk=device.pk).update(encrypted_key=token)
                done += 1
        self.stdout.write(
            f"Re-encrypted {done} authenticator seed{'s' if done != 1 else ''}. Recovery codes "
            "made under an old key match only while that key is listed."
        )
