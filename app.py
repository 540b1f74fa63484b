"""Hugging Face Space entry point: the browser chat over the bundled demo corpus."""

from qa import Assistant
from qa.web import build_demo

# Assistant.load() with no index uses the default one: built from the demo corpus into a user
# cache directory on first use (about 30 s) and reused afterwards. preload starts that in the
# background at startup, so the page is up at once and shows the collection line when ready.
demo = build_demo(Assistant.load, preload=True)

if __name__ == "__main__":
    demo.launch()
