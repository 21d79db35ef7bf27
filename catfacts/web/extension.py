"""How a view finds the service's parts: the app holds its `Services` as a Flask extension."""

from __future__ import annotations

from flask import current_app

from catfacts.services import Services

EXTENSION = "catfacts"


def current_services() -> Services:
    services: Services = current_app.extensions[EXTENSION]
    return services
