"""Hugging Face Space entry point: the browser chat over the bundled demo corpus, visitors may add their own articles."""

import os

from qa import Assistant, Settings
from qa.web import build_demo

# Uploads are on here (QA_ALLOW_UPLOAD=0 turns them off): each visitor's articles go to a collection of
# their own session, layered over the demo index, which visitors never modify.
settings = Settings.from_env({"QA_ALLOW_UPLOAD": "1", **os.environ})

# Assistant.load() with no index uses the default one: built from the demo corpus into a user
# cache directory on first use (about 30 s) and reused afterwards. preload starts that in the
# background at startup, so the page is up at once and shows the collection line when ready.
demo = build_demo(lambda: Assistant.load(settings=settings), settings=settings, preload=True)

if __name__ == "__main__":
    demo.launch()
