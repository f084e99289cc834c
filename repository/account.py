"""`GET /account`: who is signed in on this browser (name, ORCID iD, the roles the
identity provider sent, the grants held here) with a sign-out form; a "Sign in" link when
nobody is. Every landing page links here with the same static link: they are shared and
cached, so they never show who is signed in.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from jinja2 import ChoiceLoader, PackageLoader

from repository import errors
from repository.access import Grant
from repository.csrf import csrf_token
from repository.signin import signed_in
from resolver.renderers.html import ENVIRONMENT
from resolver.responses import base_url

account = Blueprint("account", __name__)
# The resolver's page environment (escaping, filters), finding this package's templates
# first and the resolver's base.html behind them.
PAGES = ENVIRONMENT.overlay(loader=ChoiceLoader([
    PackageLoader("repository", "templates"), PackageLoader("resolver", "templates")]))


def grants_for(agent: str) -> list[str]:
    """The grants `agent` holds in this repository (`fdo grants`), as sentences."""
    index = current_app.extensions["fdo"].index
    return [Grant(row.role, row.organisation_id, row.source_system).describe()
            for row in index.access.grants(agent)]


@account.get("/account")
def show() -> Response:
    configured = "web_sessions" in current_app.extensions
    person = signed_in()
    page = PAGES.get_template("account.html").render(
        base_url=base_url(), configured=configured, person=person,
        grants=grants_for(person.agent) if person else [],
        csrf_token=csrf_token(current_app.config["FDO_CSRF_KEY"], person.id_hash)
        if person else "")
    response = Response(page, content_type="text/html; charset=utf-8")
    # Personal: no cache may keep it, and none may serve it to another cookie.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie"
    return response


account.register_error_handler(errors.FDOError, errors.page_error)
