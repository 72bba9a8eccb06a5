"""The example's own pages: one that says where it runs, and an upload
that answers the size of the file it got (uploads of any size stream to
a temporary file: Django's upload handlers, wsgi.input underneath)."""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    return HttpResponse(
        "Hello from Django inside %s!\n" % request.META["SERVER_SOFTWARE"],
        content_type="text/plain",
    )


@csrf_exempt
def upload(request):
    if request.method != "POST" or "file" not in request.FILES:
        return HttpResponse(
            "POST a file field named 'file'\n",
            status=400,
            content_type="text/plain",
        )
    return HttpResponse(
        "%d\n" % request.FILES["file"].size, content_type="text/plain"
    )
