"""Running the server: stdio, or streamable HTTP with Host checks and an optional bearer token.

Why our own bearer check rather than the SDK's OAuth resource-server mode: the SDK's mode
advertises OAuth metadata pointing at an authorization server, and there is none here; a
static shared secret compared in constant time is the honest, simple contract. Host (and
Origin) header checks stay on for every bind address (DNS-rebinding protection).
"""

from __future__ import annotations

import hmac
import json

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from genoteam.server.config import ServerConfig, is_loopback

MCP_PATH = "/mcp"
HEALTH_PATHS = ("/healthz", "/readyz")


async def _send_json(send: Send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HealthRoutes:
    """GET /healthz (the process serves: 200) and /readyz (jobs can run: 200, else 503 with the
    failing checks), answered before the token check so probes need no secret; neither names a path."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        if scope.get("method") not in {"GET", "HEAD"}:
            await _send_json(send, 405, {"error": "use GET"})
            return
        from genoteam import __version__

        if scope["path"] == "/healthz":
            await _send_json(send, 200, {"status": "ok", "version": __version__})
            return
        from genoteam.server.health import readiness

        report = await anyio.to_thread.run_sync(readiness, self.config.workspace)
        await _send_json(send, 200 if report["ready"] else 503, {**report, "version": __version__})


class BearerTokenMiddleware:
    """Refuse every HTTP request without `Authorization: Bearer <token>` (401, JSON body)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not hmac.compare_digest(given, self.expected):
            body = json.dumps(
                {"error": "unauthorized", "error_description": "send Authorization: Bearer <GENOTEAM_TOKEN>"}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="genoteam"'),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def security_settings(config: ServerConfig) -> TransportSecuritySettings:
    """Host/Origin allow-lists: loopback names, the bind address, and any configured extras."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    bind = f"[{config.host}]" if ":" in config.host else config.host
    if not is_loopback(config.host) and config.host not in {"0.0.0.0", "::"}:
        hosts.append(f"{bind}:*")
    hosts += [h if ":" in h else f"{h}:*" for h in config.allowed_hosts]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def http_app(server: MCPServer, config: ServerConfig) -> ASGIApp:
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=security_settings(config), host=config.host
    )
    if config.token:
        app = BearerTokenMiddleware(app, config.token)
    return HealthRoutes(app, config)


async def serve_http(server: MCPServer, config: ServerConfig) -> None:
    import uvicorn

    app = http_app(server, config)
    # the session manager's lifespan runs inside the Starlette app; wrapping keeps it intact
    uv = uvicorn.Server(
        uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", lifespan="on")
    )
    await uv.serve()


def serve(server: MCPServer, config: ServerConfig) -> None:
    if config.transport == "stdio":
        anyio.run(server.run_stdio_async)
    else:
        anyio.run(serve_http, server, config)
