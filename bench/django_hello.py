"""The hello world of bench/hello_app.py as a Django view, the whole
project in one file (bench/peers_bench.py): no database, no middleware."""

import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=False,
)


def hello(request):
    return HttpResponse(b"Hello, World!\n", content_type="text/plain")


urlpatterns = [path("", hello)]

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
