"""gunicorn settings for PARS (docs/deployment.md): ``gunicorn -c deploy/gunicorn.conf.py``.

Synchronous workers with a few threads each: requests are short (files go to the task
worker, mail is sent from tasks). Every value can be changed through the environment.
"""

import multiprocessing
import os

wsgi_app = "pars.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# 2 * cores + 1 processes, 4 threads each: 36 requests at once on 4 cores.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
# An upload of PARS_MAX_UPLOAD_MB is streamed to disk within the request: allow for a slow
# line. Everything else answers in well under a second.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory, no state kept between requests).
max_requests = 2000
max_requests_jitter = 200
# Only the proxy on this machine may set X-Forwarded-*.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"
# No query strings in the access log: search terms may hold personal data.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
limit_request_line = 8190
