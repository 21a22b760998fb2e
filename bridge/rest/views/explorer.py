"""``/docs``: an interactive API explorer (Swagger UI) for the live ``/openapi.json``.

The page and every asset come from this installation (Swagger UI's files ship in the
``flask-swagger-ui`` package); nothing loads from a CDN, so the explorer works offline. "Try it
out" calls the same bridge; the Authorize button takes an API key for either scheme.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Response, abort

__all__ = ["create_blueprint"]

ASSETS = files("flask_swagger_ui") / "dist"
_SERVED = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
}
# Swagger UI styles some elements inline, hence 'unsafe-inline' for styles only; scripts are ours.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>mcp-rest-bridge API explorer</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="explorer"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/explorer.js"></script>
</body>
</html>
"""
INIT = """window.addEventListener("load", function () {
  window.explorer = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#explorer",
    deepLinking: true,
    persistAuthorization: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
"""


def create_blueprint() -> Blueprint:
    bp = Blueprint("explorer", __name__)

    def page() -> Response:
        return Response(PAGE, mimetype="text/html", headers={"Content-Security-Policy": CSP})

    def init() -> Response:
        return Response(INIT, content_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})

    def asset(name: str) -> Response:
        if name not in _SERVED:  # a fixed list: no path ever reaches the file system unchecked
            abort(404)
        data = (ASSETS / name).read_bytes()
        return Response(data, content_type=_SERVED[name], headers={"Cache-Control": "public, max-age=86400"})

    bp.add_url_rule("/docs", "explorerPage", page, methods=["GET"])
    bp.add_url_rule("/docs/explorer.js", "explorerInit", init, methods=["GET"])
    bp.add_url_rule("/docs/assets/<path:name>", "explorerAsset", asset, methods=["GET"])
    return bp
