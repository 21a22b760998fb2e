"""``create_forwarding_server``: an SDK lowlevel ``Server`` wired to a backend's handlers.

The factory only wires: ``ForwardingHandlers`` answers the requests, and with ``Subscriptions``
a ``ChangeAnnouncer`` tells clients what changed and the server says that it will. With
``Completions`` it answers ``completion/complete`` and declares the capability; with ``Tasks``
the server offers the tasks extension (``TaskHandlers``). Every message is handled under the
request its ``_meta`` names, where the HTTP request did not name one (``continue_request``).
"""

from __future__ import annotations

import warnings
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPDeprecationWarning

from bridge import __version__
from bridge.mcpserver.backend import Backend, Completions, Subscriptions, Tasks
from bridge.mcpserver.changes import ChangeAnnouncer
from bridge.mcpserver.handlers import ForwardingHandlers
from bridge.mcpserver.tasks import TASKS, TaskHandlers, TaskIdParams, TaskUpdateParams
from bridge.telemetry import continue_request

__all__ = ["create_forwarding_server"]

#: What the gateway announces to handshake-era clients (at 2026-07-28 the listen handler says it).
_CHANGES = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)


async def _continued(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Every message's handling under the request its ``_meta`` names, where the HTTP request that
    carried it named none in its header fields (``continue_request``)."""
    continue_request(ctx.params)
    return await call_next(ctx)


class _AnnouncingServer(Server[Any]):
    """A server that tells handshake-era clients it sends ``list_changed`` notifications."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or _CHANGES, experimental_capabilities, extensions
        )


def create_forwarding_server(
    backend: Backend,
    *,
    name: str,
    instructions: str,
    subscriptions: Subscriptions | None = None,
    completions: Completions | None = None,
    tasks: Tasks | None = None,
    handlers: ForwardingHandlers | None = None,
) -> Server[Any]:
    """A server forwarding every request to ``backend``; clients may follow ``subscriptions``' changes
    and run tool calls as ``tasks``. ``handlers``, when given, are the ones to wire (an edge that
    serves some requests itself shares their state: the log level each session chose)."""
    handlers = handlers or ForwardingHandlers(backend, subscriptions, completions)
    task_handlers = None if tasks is None else TaskHandlers(tasks, handlers.call_tool)
    follows = subscriptions is not None
    if subscriptions is not None:
        ChangeAnnouncer(handlers.bus, handlers.followers, handlers.sessions).listen_to(subscriptions)
    server_type: type[Server[Any]] = _AnnouncingServer if follows else Server
    with warnings.catch_warnings():  # logging/setLevel is deprecated at 2026-07-28; older clients use it
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        server = server_type(
            name,
            version=__version__,
            instructions=instructions,
            on_list_tools=handlers.list_tools,
            on_call_tool=handlers.call_tool,
            on_list_resources=handlers.list_resources,
            on_list_resource_templates=handlers.list_templates,
            on_read_resource=handlers.read_resource,
            on_list_prompts=handlers.list_prompts,
            on_get_prompt=handlers.get_prompt,
            on_set_logging_level=handlers.set_level,
            on_subscribe_resource=handlers.subscribe if follows else None,
            on_unsubscribe_resource=handlers.unsubscribe if follows else None,
            on_subscriptions_listen=handlers.listen if follows else None,
            on_completion=handlers.complete if completions is not None else None,
        )
    server.middleware.insert(0, _continued)
    if task_handlers is not None:  # a CreateTaskResult is not among on_call_tool's result types
        server.extensions[TASKS] = {}
        server.add_request_handler("tools/call", types.CallToolRequestParams, task_handlers.call_tool)
        server.add_request_handler("tasks/get", TaskIdParams, task_handlers.get)
        server.add_request_handler("tasks/update", TaskUpdateParams, task_handlers.update)
        server.add_request_handler("tasks/cancel", TaskIdParams, task_handlers.cancel)
    return server
