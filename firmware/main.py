"""Start the node that settings.json describes (role "lamp" or "bin")."""

import app
import settings
from clock import Clock

app.run(settings.load(), Clock())
