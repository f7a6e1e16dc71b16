import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pars.settings")
from pars.checks import refuse_insecure_secret_key

refuse_insecure_secret_key()
application = get_asgi_application()
