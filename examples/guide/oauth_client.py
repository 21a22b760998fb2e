"""The integration guide's "OAuth 2.0 Integration", against a bridge that takes OAuth 2.0 tokens.

Changed from the guide, and why:

- ``MCPClient`` is never imported in the guide; it is our generated client's ``Client``
  (``mcp_bridge_client``, generated/python), which takes ``url=`` and ``headers=``.
- The guide's placeholders are filled in: ``CLIENT_ID``, ``CLIENT_SECRET``, ``REDIRECT_URI``,
  ``TOKEN_URL`` (and ``AUTHORIZE_URL``, which the guide's step before "Get token" needs) from
  the environment; ``request`` is the request the user's browser makes to ``REDIRECT_URI`` once
  the authorization server has let it in. This script is that step: it shows the user the
  authorization page (``webbrowser.open``; the URL is printed too) and listens at
  ``REDIRECT_URI`` (on this machine, RFC 8252's loopback redirect) for the browser to come back.
  The authorization request names the bridge as the ``resource`` (RFC 8707), so the token is
  issued for it: the bridge refuses tokens meant for anything else.
- The URL: read from ``MCP_BRIDGE_URL`` (hence ``import os``), the guide's URL as the default.
- The guide stops at making the client; the lines after it call one tool with the token.

Run it against ``mcp-bridge serve --oauth-issuer https://login.example --public-url http://127.0.0.1:8000``,
with a client registered at that issuer for the redirect URI::

    OAUTH_CLIENT_ID=... OAUTH_CLIENT_SECRET=... OAUTH_AUTHORIZE_URL=https://login.example/authorize \\
    OAUTH_TOKEN_URL=https://login.example/token MCP_BRIDGE_URL=http://127.0.0.1:8000 \\
    PYTHONPATH=generated/python python examples/guide/oauth_client.py

(authlib refuses plain-HTTP token endpoints unless ``AUTHLIB_INSECURE_TRANSPORT=1``: for a test
authorization server on 127.0.0.1 only.)
"""

import os
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

from authlib.integrations.requests_client import OAuth2Session
from mcp_bridge_client import Client as MCPClient

CLIENT_ID = os.environ["OAUTH_CLIENT_ID"]
CLIENT_SECRET = os.environ["OAUTH_CLIENT_SECRET"]
REDIRECT_URI = os.environ.get("OAUTH_REDIRECT_URI", "http://127.0.0.1:8765/callback")
AUTHORIZE_URL = os.environ["OAUTH_AUTHORIZE_URL"]
TOKEN_URL = os.environ["OAUTH_TOKEN_URL"]
BRIDGE_URL = os.environ.get("MCP_BRIDGE_URL", "http://localhost:8000").removesuffix("/mcp")


def browser_comes_back(authorization_url):
    """Show the user ``authorization_url``; answer the request their browser then makes to REDIRECT_URI."""
    where = urlsplit(REDIRECT_URI)
    came_back = []

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self):
            came_back.append(SimpleNamespace(url=f"{where.scheme}://{where.netloc}{self.path}"))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Signed in: you can close this window.\n")

        def log_message(self, *args):
            pass

    with HTTPServer((where.hostname, where.port), Callback) as server:
        listening = threading.Thread(target=server.handle_request)
        listening.start()
        print(f"Sign in at: {authorization_url}", flush=True)
        webbrowser.open(authorization_url)
        listening.join(timeout=300)
    if not came_back:
        raise SystemExit("the browser did not come back to " + REDIRECT_URI)
    return came_back[0]


oauth = OAuth2Session(
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    redirect_uri=REDIRECT_URI
)

# Send the user to the authorization server, asking for a token for the bridge
authorization_url, state = oauth.create_authorization_url(AUTHORIZE_URL, resource=BRIDGE_URL)
request = browser_comes_back(authorization_url)

# Get token
token = oauth.fetch_token(
    TOKEN_URL,
    authorization_response=request.url
)

# Use token with MCP
client = MCPClient(
    url=os.environ.get("MCP_BRIDGE_URL", "http://localhost:8000/mcp"),
    headers={"Authorization": f"Bearer {token['access_token']}"}
)

result = client.call_tool("process_data", {"input": "[1, 2, 3]", "format": "json"})
print(f"Result: {result.structuredContent}")
