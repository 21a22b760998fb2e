"""``python -m bridge.demo``: serve the demo over stdio."""

from bridge.demo.server import create_server

if __name__ == "__main__":
    create_server().run("stdio")
