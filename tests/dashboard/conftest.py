"""Dashboard tests: page modules register themselves with Dash, so an app must exist before they import."""

from dashboard.app import create_dash

create_dash()
