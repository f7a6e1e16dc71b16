import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pars.settings")
from pars.checks import refuse_insecure_secret_key

refuse_insecure_secret_key()
application = get_wsgi_application()
