"""Dash app: pages, pure figure builders, API client."""
