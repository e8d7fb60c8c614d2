"""What the web server adds around Gradio's own routes: a request naming an event handler number
(`fn_index`) the app does not have is a 400 with a one-line reason, where Gradio's lookup
(`fns[fn_index]`) would end in an HTTP 500 and a traceback in the server's log."""

from __future__ import annotations

from types import CodeType

from gradio import route_utils
from starlette.requests import Request
from starlette.responses import JSONResponse


async def unknown_handler(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's handler for KeyError: a 400 when Gradio's handler lookup raised it; any other
    KeyError is a bug, raised on to the server's 500 and its log."""
    if not isinstance(error, KeyError) or not raised_in(error, route_utils.get_fn.__code__):
        raise error
    number = error.args[0] if error.args else None
    return JSONResponse({"detail": f"no event handler number {number!r} in this app; its /config lists them"}, 400)


def raised_in(error: BaseException, code: CodeType) -> bool:
    """Was `error` raised in the function whose code is `code` (its innermost frame)?"""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is code


EXCEPTION_HANDLERS = {KeyError: unknown_handler}  # FastAPI(exception_handlers=...), through launch's app_kwargs
