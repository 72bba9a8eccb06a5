"""python -m pywsgi_embed: the pywsgi-embed command."""

import sys

from pywsgi_embed.cli import main

sys.exit(main())
