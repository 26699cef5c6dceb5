"""The web console: KPIs, runs with drill-down, and the approvals inbox, behind a login.

A Starlette application built by :func:`create_app` from settings; nothing is created at
import time. Pages are rendered on the server (Jinja2) with inline SVG charts and one local
stylesheet: the console fetches nothing from the network. Every page needs a logged-in
user (policy.yaml ``console.users``); deciding an approval needs the ``approver`` role, which
the POST handler checks itself, whatever the page showed. A decision goes through
``Runner.resume`` exactly as ``opsgraph runs resume`` (compare-and-set, edit validation,
audit with the logged-in user as the decider), and the run then continues to its end in the
request's worker thread before the page answers.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from opsgraph.console import formats, pages
from opsgraph.console.auth import ConsoleUser, LoginThrottle, authenticate, console_users, session_secret
from opsgraph.console.pages import RunnerFactory
from opsgraph.settings import Settings

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "opsgraph_console"
DEFAULT_SESSION_HOURS = 8
log = logging.getLogger("opsgraph.console")


def create_app(settings: Settings, runner_factory: RunnerFactory | None = None) -> Starlette:
    """The console application for the data home and policy of ``settings``.

    ``runner_factory()`` opens the runner a decision resumes the run with (default:
    ``open_runner(settings)``, the same as ``opsgraph runs resume``).
    """
    from opsgraph.governance.policy import load_policy

    policy = load_policy(settings.policy_path)  # a broken policy stops the console before it serves
    hours = int(((policy.raw.get("console") or {}).get("session_hours")) or DEFAULT_SESSION_HOURS)
    secret = session_secret(settings.console_secret, settings.data_home)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(formats.FILTERS)
    handlers = Handlers(settings, templates, runner_factory or pages.default_runner(settings))
    routes = [
        Route("/", handlers.home), Route("/healthz", handlers.healthz),
        Route("/login", handlers.login_page, methods=["GET"]), Route("/login", handlers.login, methods=["POST"]),
        Route("/logout", handlers.logout, methods=["POST"]),
        Route("/kpis", handlers.kpis), Route("/runs", handlers.runs), Route("/runs/{thread}", handlers.run),
        Route("/inbox", handlers.inbox), Route("/inbox/{thread}/decide", handlers.decide, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE,
                             max_age=hours * 3600, same_site="strict", https_only=False)]
    return Starlette(routes=routes, middleware=middleware)


class Handlers:
    """Request handlers; reads and decisions open their stores per request (safe across worker threads)."""

    def __init__(self, settings: Settings, templates: Jinja2Templates, runner_factory: RunnerFactory):
        self.settings, self.templates, self.runner_factory = settings, templates, runner_factory
        self.throttle = LoginThrottle()

    # -- plumbing ------------------------------------------------------------------------------
    def user(self, request: Request) -> ConsoleUser | None:
        """The logged-in user, looked up in the current policy (a removed user is logged out)."""
        name = request.session.get("user")
        if not name:
            return None
        user = console_users(pages.policy(self.settings)).get(str(name))
        if user is None:
            request.session.clear()
        return user

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        """A page with the common context (user, CSRF token, messages carried over a redirect)."""
        common = {"user": self.user(request), "csrf": request.session.get("csrf", ""),
                  "flash": request.session.pop("flash", None)}
        return self.templates.TemplateResponse(request, name, {**common, **context}, status_code=status)

    def to_login(self, request: Request) -> RedirectResponse:
        """To the login page, coming back to this page afterwards."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    # -- pages -----------------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        """The KPI page is the front page."""
        return RedirectResponse("/kpis", status_code=303)

    async def healthz(self, request: Request) -> Response:
        """``ok`` once the console serves (no login: it says nothing about the data)."""
        return PlainTextResponse("ok")

    async def login_page(self, request: Request) -> Response:
        """The login form."""
        return self.render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "error": None})

    async def login(self, request: Request) -> Response:
        """Check name and password against policy.yaml; a new signed session on success."""
        form = await request.form()
        name, password = str(form.get("name") or ""), str(form.get("password") or "")
        target = _safe_next(str(form.get("next") or ""))
        key = name.strip()[:80]
        wait = self.throttle.wait_s(key)
        if wait:
            error = f"too many failed logins for {key}; try again in {max(1, round(wait / 60))} min"
            return self.render(request, "login.html", {"next": target, "error": error}, 429)
        users = console_users(await run_in_threadpool(pages.policy, self.settings))
        user = await run_in_threadpool(authenticate, users, name, password)
        if user is None:
            self.throttle.failed(key)
            log.warning("console login refused for %r", key)
            return self.render(request, "login.html", {"next": target, "error": "wrong name or password"}, 401)
        self.throttle.succeeded(key)
        request.session.clear()  # a new session on every login: no fixation of an earlier cookie
        request.session.update({"user": user.name, "csrf": secrets.token_urlsafe(24)})
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        """Forget the session."""
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def kpis(self, request: Request) -> Response:
        """KPIs and charts of the period in ``from``/``to``."""
        if self.user(request) is None:
            return self.to_login(request)
        params = request.query_params
        context = await run_in_threadpool(pages.kpi_page, self.settings, params.get("from"), params.get("to"))
        return self.render(request, "kpis.html", context, 400 if context.get("error") else 200)

    async def runs(self, request: Request) -> Response:
        """Recent runs, optionally of one ``status``."""
        if self.user(request) is None:
            return self.to_login(request)
        context = await run_in_threadpool(pages.runs_page, self.settings, request.query_params.get("status"))
        return self.render(request, "runs.html", context)

    async def run(self, request: Request) -> Response:
        """One run's drill-down."""
        if self.user(request) is None:
            return self.to_login(request)
        context = await run_in_threadpool(pages.run_page, self.settings, request.path_params["thread"])
        return self.render(request, "run.html", context, 404 if context.get("error") else 200)

    async def inbox(self, request: Request) -> Response:
        """Everything waiting for a person."""
        if self.user(request) is None:
            return self.to_login(request)
        context = await run_in_threadpool(pages.inbox_page, self.settings)
        return self.render(request, "inbox.html", context)

    async def decide(self, request: Request) -> Response:
        """Approve, reject or edit a pending approval: approvers only, checked here."""
        user = self.user(request)
        if user is None:
            return self.to_login(request)
        thread, form = request.path_params["thread"], dict(await request.form())
        if not user.may_decide:
            await run_in_threadpool(pages.audit_refusal, self.settings, thread, user, form)
            context = await run_in_threadpool(pages.inbox_page, self.settings)
            error = f"{user.name} is a {user.role}: only an approver may approve, reject or edit"
            return self.render(request, "inbox.html", {**context, "error": error}, 403)
        if not hmac.compare_digest(str(form.get("csrf") or ""), str(request.session.get("csrf") or "")):
            return self.render(request, "message.html", {"title": "Form expired",
                                                         "error": "the form has expired; reload the page and try again"}, 403)
        outcome = await run_in_threadpool(pages.decide, self.settings, self.runner_factory, thread, user, form)
        if outcome.error:
            context = await run_in_threadpool(pages.inbox_page, self.settings)
            return self.render(request, "inbox.html", {**context, "error": outcome.error, "focus": thread}, 409)
        request.session["flash"] = outcome.message
        return RedirectResponse(f"/runs/{quote(thread)}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (never ``//host`` or a full URL)."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/kpis"
    return target
